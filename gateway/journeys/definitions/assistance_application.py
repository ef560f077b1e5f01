"""救助一件事: one application for assistance; the decision, and what follows from an approval."""

from datetime import timedelta

from gateway.journeys.model import Journey, Step

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
    ),
    notes="Eldercare enrols elderly members on approval and funeral records the household, but neither publishes "
    "one outcome per approval yet, so those steps cannot be tracked to completion; they are left out until they do.",
)
