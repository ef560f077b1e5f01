"""Turning 80 (免申即享): eldercare grants the age allowance without an application, and the elder is told.

Eldercare's daily job grants the allowances of everyone who turned 80 in one run, under one correlation id, so
each grant is a journey of its own. The grant is the journey's one step and its news: the elder sees it among
their journeys and notifications. The difficult-elderly subsidy is granted with the same event type, on an
assistance approval; it is a step of 救助一件事, not this journey."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

TURNING_80 = Journey(
    kind="turning-80",
    label_zh="高龄补贴免申即享",
    label_en="Age allowance at 80, without applying",
    starts_with="civic.eldercare.allowance-granted.v1",
    starts_when=(("allowance", "age"),),
    one_per_start_event=True,
    deadline=timedelta(days=1),
    steps=(
        Step(
            name="allowance-granted",
            label_zh="高龄补贴已核发，按月发放",
            label_en="Age allowance granted, paid monthly",
            service="eldercare",
            done=("civic.eldercare.allowance-granted.v1",),
        ),
    ),
    notice_zh="您已年满80周岁，高龄补贴已为您办理，无需申请，将按月发放。",
    notice_en="You have turned 80: your age allowance has been granted without an application and is paid monthly.",
)
