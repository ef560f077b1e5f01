"""救助一件事: one application for assistance; the decision, and what follows from an approval.

Eldercare and funeral each answer every approval once, also when there is nothing for them to do (no elderly
member, a benefit that does not make the household one in difficulty: a count of 0), so the journey can complete.
The power company, housing and employment departments receive the approval through the gateway's subscriptions
(subscribed to civic.assistance.benefit-approved.v1), as the after-death journey's pension and household-registration
departments receive the death: a delivery to an outside system is not a step of the journey, in either."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

ELDERS_ENROLLED = Step(
    name="elders-enrolled",
    label_zh="家庭中的老年人纳入经济困难老年人补贴",
    label_en="Elderly members enrolled in the subsidy for elderly people in difficulty",
    service="eldercare",
    done=("civic.eldercare.household-elders-enrolled.v1",),
)

ASSISTANCE_APPLICATION = Journey(
    kind="assistance-application",
    label_zh="救助一件事",
    label_en="Applying for assistance",
    starts_with="civic.assistance.application-submitted.v1",
    deadline=timedelta(days=30),  # verification and a caseworker's decision take days, not seconds
    steps=(
        Step(
            name="decision",
            label_zh="审核审批",
            label_en="Verified and decided",
            service="assistance",
            done=("civic.assistance.benefit-approved.v1",),
            ends_journey=("civic.assistance.application-rejected.v1",),
        ),
        ELDERS_ENROLLED,
        Step(
            name="funeral-services-marked",
            label_zh="家庭登记为享受免除基本殡葬服务费用",
            label_en="Household recorded for free basic funeral services",
            service="funeral",
            done=("civic.funeral.household-marked-for-basic-funeral-services.v1",),
        ),
    ),
    notice_zh="您的救助申请已办结，相关部门已同步办理。",
    notice_en="Your application for assistance has been dealt with, and the departments concerned have acted on it.",
)
