"""Marriage and divorce: household composition changes, and assistance re-checks the households of both parties.

One journey kind per start event (the model has one start event per kind); the step is the same. Only the first
party (``resident_id``, the event's subject) sees the journey as theirs: the event keys on them alone."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

HOUSEHOLDS_RECHECKED = Step(
    name="households-rechecked",
    label_zh="重新核对救助家庭的保障资格",
    label_en="Assistance eligibility of the households re-checked",
    service="assistance",
    done=("civic.assistance.households-rechecked.v1",),
)

MARRIAGE = Journey(
    kind="marriage",
    label_zh="结婚登记一件事",
    label_en="Marriage registered",
    starts_with="civic.marriage.marriage-registered.v1",
    deadline=timedelta(hours=1),
    steps=(HOUSEHOLDS_RECHECKED,),
    notice_zh="结婚登记后，救助家庭的保障资格已重新核对。",
    notice_en="After your marriage was registered, your household's assistance was re-checked.",
)

DIVORCE = Journey(
    kind="divorce",
    label_zh="离婚登记一件事",
    label_en="Divorce registered",
    starts_with="civic.marriage.divorce-registered.v1",
    deadline=timedelta(hours=1),
    steps=(HOUSEHOLDS_RECHECKED,),
    notice_zh="离婚登记后，救助家庭的保障资格已重新核对。",
    notice_en="After your divorce was registered, your household's assistance was re-checked.",
)
