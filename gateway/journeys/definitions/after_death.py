"""身后一件事: a death reported once; every department does its part; a death registered in error is undone.

The eco-burial subsidy is not a step: it follows the family's choice of burial, which may come much later or
never, and the journey should not wait for it."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

AFTER_DEATH = Journey(
    kind="after-death",
    label_zh="身后一件事",
    label_en="After a death",
    starts_with="civic.funeral.death-registered.v1",
    compensation_starts_with="civic.funeral.death-revoked.v1",
    deadline=timedelta(days=1),
    steps=(
        Step(
            name="benefits-stopped",
            label_zh="停发救助金并重算家庭待遇",
            label_en="Benefits stopped and the household recalculated",
            service="assistance",
            done=("civic.assistance.benefits-of-deceased-stopped.v1",),
            compensated=("civic.assistance.benefits-of-deceased-reinstated.v1",),
        ),
        Step(
            name="care-ended",
            label_zh="停发高龄补贴、退还养老床位、终止居家服务",
            label_en="Age allowance stopped, institution bed released, home services cancelled",
            service="eldercare",
            done=("civic.eldercare.care-of-deceased-ended.v1",),
            compensated=("civic.eldercare.care-of-deceased-restored.v1",),
        ),
        Step(
            name="funeral-benefit",
            label_zh="惠民殡葬补助（困难群众免除基本殡葬费用）",
            label_en="Basic funeral benefit (free for people in difficulty)",
            service="funeral",
            done=("civic.funeral.funeral-benefit-granted.v1",),
            not_applicable=("civic.funeral.funeral-benefit-not-granted.v1",),
            compensated=("civic.funeral.funeral-benefit-cancelled.v1",),
        ),
        Step(
            name="spouse-widowed",
            label_zh="配偶婚姻状况登记为丧偶",
            label_en="Spouse recorded as widowed",
            service="marriage",
            done=("civic.marriage.spouse-widowed.v1",),
            not_applicable=("civic.marriage.deceased-had-no-spouse.v1",),
            compensated=("civic.marriage.widowhood-reversed.v1", "civic.marriage.widowhood-not-reversed.v1"),
        ),
    ),
)
