"""Events published by marriage registration (婚姻登记)."""

from __future__ import annotations

from datetime import date

from civic.events import PersonEvent
from civic.identity import ResidentId


class MarriageRegistered(PersonEvent):
    """Two people married; ``resident_id`` and ``spouse_resident_id`` are the two parties (keyed by the first).
    Assistance re-checks the households of both."""

    type_name = "civic.marriage.marriage-registered.v1"

    registration_id: str
    spouse_resident_id: ResidentId
    registered_on: date

    def parties(self) -> tuple[str, ...]:
        return (self.resident_id, self.spouse_resident_id)


class DivorceRegistered(PersonEvent):
    """A divorce by agreement was registered (after the cooling-off period); both parties are named.
    ``registration_id`` is the divorce's own id; ``marriage_registration_id`` the marriage it ended."""

    type_name = "civic.marriage.divorce-registered.v1"

    registration_id: str
    spouse_resident_id: ResidentId
    registered_on: date
    marriage_registration_id: str | None = None

    def parties(self) -> tuple[str, ...]:
        return (self.resident_id, self.spouse_resident_id)


class SpouseWidowed(PersonEvent):
    """On a registered death, the surviving spouse (``resident_id``) is recorded as widowed (丧偶)."""

    type_name = "civic.marriage.spouse-widowed.v1"

    deceased_resident_id: ResidentId
    death_registration_id: str
    widowed_on: date


class WidowhoodReversed(PersonEvent):
    """The death was revoked: the surviving spouse is married again, as before (compensation)."""

    type_name = "civic.marriage.widowhood-reversed.v1"

    deceased_resident_id: ResidentId
    death_registration_id: str


class DivorceApplied(PersonEvent):
    """Both parties applied for a divorce by agreement (Civil Code art. 1077); the cooling-off period runs.
    Either may withdraw until ``last_day_to_withdraw``; the certificate may be applied for until
    ``last_day_for_certificate``, after which the application is deemed withdrawn."""

    type_name = "civic.marriage.divorce-applied.v1"

    divorce_id: str
    marriage_registration_id: str
    spouse_resident_id: ResidentId
    applied_on: date
    last_day_to_withdraw: date
    last_day_for_certificate: date


class DivorceApplicationWithdrawn(PersonEvent):
    """``resident_id`` withdrew the divorce application during the cooling-off period; the marriage continues."""

    type_name = "civic.marriage.divorce-application-withdrawn.v1"

    divorce_id: str
    marriage_registration_id: str
    spouse_resident_id: ResidentId
    withdrawn_on: date


class DivorceApplicationDeemedWithdrawn(PersonEvent):
    """Neither party applied for the certificate within the window: the application is deemed withdrawn."""

    type_name = "civic.marriage.divorce-application-deemed-withdrawn.v1"

    divorce_id: str
    marriage_registration_id: str
    spouse_resident_id: ResidentId
    last_day_for_certificate: date


class MaritalStatusChanged(PersonEvent):
    """``resident_id``'s marital status in the register changed (married, divorced, widowed, unmarried after a
    revoked registration); ``cause`` is the type of the fact that changed it."""

    type_name = "civic.marriage.marital-status-changed.v1"

    status: str
    previous_status: str
    since: date
    marriage_registration_id: str
    cause: str


class CertificateReissued(PersonEvent):
    """A certificate was reissued (补领) to ``resident_id``; ``voided_number`` is no longer valid."""

    type_name = "civic.marriage.certificate-reissued.v1"

    marriage_registration_id: str
    kind: str
    number: str
    voided_number: str
    reissued_on: date


class RegistrationRevoked(PersonEvent):
    """A marriage registration made with a false identity (非真实身份登记) was revoked: it is void, as if never
    made. Both parties are named; each one's marital status goes back to what it was before."""

    type_name = "civic.marriage.registration-revoked.v1"

    marriage_registration_id: str
    spouse_resident_id: ResidentId
    reason: str
    revoked_on: date


class RecordCorrected(PersonEvent):
    """A historical marriage record was corrected; the field is named, the values are read through the API."""

    type_name = "civic.marriage.record-corrected.v1"

    marriage_registration_id: str
    field: str
    corrected_on: date


class DeceasedHadNoSpouse(PersonEvent):
    """A registered death found no current marriage in the register: nobody to record as widowed (the step of
    身后一件事 is not applicable)."""

    type_name = "civic.marriage.deceased-had-no-spouse.v1"

    death_registration_id: str


class WidowhoodNotReversed(PersonEvent):
    """The death was revoked but the surviving spouse (``resident_id``) has married again since: the earlier
    marriage cannot be restored without bigamy, and a caseworker must sort it out."""

    type_name = "civic.marriage.widowhood-not-reversed.v1"

    deceased_resident_id: ResidentId
    death_registration_id: str
    reason: str


class RegistrationPartyCorrected(PersonEvent):
    """A registration named a party by a mistyped resident ID, and a caseworker corrected it: the registration is
    ``resident_id``'s (the corrected ID) and no longer ``previous_resident_id``'s. ``spouse_resident_id`` is the
    other party. ``marriage_status`` is the registration's status (married, divorced, widowed): whoever keeps
    households by marital status re-checks both IDs. Each one's new marital status follows as
    ``MaritalStatusChanged``."""

    type_name = "civic.marriage.registration-party-corrected.v1"

    previous_resident_id: ResidentId
    spouse_resident_id: ResidentId
    marriage_registration_id: str
    marriage_status: str
    registered_on: date
    corrected_on: date
