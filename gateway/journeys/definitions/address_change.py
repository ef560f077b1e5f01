"""Address change: a road renamed; every service holding addresses on that road updates them, and says so once
per rename, with how many it updated (0 when it holds none there). Done when all have."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

ADDRESS_CHANGE = Journey(
    kind="address-change",
    label_zh="地址变更一件事（道路更名）",
    label_en="Address change (a road renamed)",
    starts_with="civic.placenames.road-renamed.v1",
    deadline=timedelta(hours=1),  # nothing waits on a person: each service updates its own records at once
    steps=(
        Step(
            name="household-addresses",
            label_zh="救助家庭地址更新",
            label_en="Addresses of households receiving assistance updated",
            service="assistance",
            done=("civic.assistance.household-addresses-updated.v1",),
        ),
        Step(
            name="elder-addresses",
            label_zh="老年人地址更新",
            label_en="Addresses of elderly people updated",
            service="eldercare",
            done=("civic.eldercare.elder-addresses-updated.v1",),
        ),
    ),
)
