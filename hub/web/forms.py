"""Flask-WTF forms: every form carries and checks the CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..services.errors import Invalid
from ..services.events import EVENT_DETAILS
from ..services.money import DEFAULT_CURRENCY
from ..services.orders import BUYER_FIELDS, MAX_BUYER_NAME
from ..services.roles import DOOR_STAFF, ROLES
from ..services.validate import MAX_EMAIL, normal_email

try:  # wtforms >= 3.3 wants SelectChoice objects; older versions take (value, label) tuples
    from wtforms.fields.choices import SelectChoice as _SelectChoice

    def choice(value, label):
        return _SelectChoice(value, label)
except ImportError:  # pragma: no cover

    def choice(value, label):
        return (value, label)


def EMAIL(_form, field) -> None:
    """One plain address, by the same rule as the API's (services.validate.normal_email);
    whether it works shows when the mail arrives."""
    if field.data:
        try:
            normal_email(field.data)
        except ValueError as exc:
            raise ValidationError(f"not an email address: {exc}") from None


# An amount as organizers type it; how many decimals the event's currency allows is services.money.to_minor's rule.
AMOUNT = Regexp(r"^\s*\d{1,9}([.,]\d{0,3})?\s*$", message="an amount like 25 or 24.50")


def by_rule(checker):
    """A field validator that applies a service's own rule (a services.validate checker) and keeps
    its cleaned value, so the form accepts exactly what the service does, with the reason on the field."""

    def validate(_form, field) -> None:
        if field.data is not None:
            try:
                field.data = checker(field.data, field.label.text)
            except Invalid as exc:
                raise ValidationError(exc.message) from None

    return validate


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=200)])


class TotpForm(FlaskForm):
    code = StringField("6-digit code", validators=[InputRequired(), Regexp(r"^\s*\d{6}\s*$", message="six digits")])


class RegisterForm(FlaskForm):
    """Step one: the address; the password is chosen after following the mailed link (RegisterFinishForm)."""

    email = EmailField("Email", validators=[InputRequired(), EMAIL, Length(max=320)])


class RegisterFinishForm(FlaskForm):
    password = PasswordField("Password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", message="the passwords differ")])


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), Length(max=320)])


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", message="the passwords differ")])


class CheckoutForm(FlaskForm):
    # the buyer rule of the API (services.orders.BUYER_FIELDS); maxlength is only the browser's hint
    name = StringField(
        "Name", validators=[InputRequired(), by_rule(BUYER_FIELDS["name"])], render_kw={"maxlength": MAX_BUYER_NAME}
    )
    email = EmailField(
        "Email", validators=[InputRequired(), by_rule(BUYER_FIELDS["email"])], render_kw={"maxlength": MAX_EMAIL}
    )
    promo_code = StringField("Promo code", validators=[Optional(), Length(max=40)])
    payment_method = SelectField("Payment", choices=[])


class VenueForm(FlaskForm):
    name = StringField("Venue name", validators=[InputRequired(), Length(max=200)])
    layout = TextAreaField(
        "Seats",
        validators=[InputRequired(), Length(max=100_000)],
        description="One section per line: `Section: Row=seats, Row=first-last, Row=[labels]`, "
        "e.g. `Stalls: A=12, B=12, C=3-14` or `Box: 1=[L1 L2 R1 R2]`",
    )


class VenueEditForm(FlaskForm):
    name = StringField("Venue name", validators=[InputRequired(), Length(max=200)])
    add_layout = TextAreaField(
        "Add rows or sections",
        validators=[Optional(), Length(max=100_000)],
        description="Same form as a new venue, e.g. `Stalls: D=12` or `Gallery: A=8`. Existing seats never move.",
    )


class CheckboxesField(SelectMultipleField):
    """One checkbox per choice (a venue's sections)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TicketTypeForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    kind = SelectField("Kind", choices=[choice("seated", "Seated"), choice("ga", "General admission")])
    price = StringField("Price", validators=[Optional(), AMOUNT])
    capacity = IntegerField("Capacity (GA)", validators=[Optional(), NumberRange(1, 1_000_000)])
    sections = StringField("Sections (seated, comma separated; empty = all)", validators=[Optional(), Length(max=2000)])
    zones = StringField(
        "Zones (numbers 1-16, comma separated; empty = all)",
        validators=[Optional(), Regexp(r"^\s*\d{1,2}(\s*,\s*\d{1,2})*\s*$", message="e.g. 1,2")],
    )


class _EventDetails(FlaskForm):
    """The fields an event has when it is created and when it is edited."""

    title = StringField("Title", validators=[InputRequired(), Length(max=300)])
    artist = StringField("Artist", validators=[Optional(), Length(max=300)])
    category = StringField("Category", validators=[Optional(), Length(max=100)])
    location = StringField("Location (city)", validators=[Optional(), Length(max=300)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=10_000)])
    starts_at = DateTimeLocalField("Starts at (UTC)", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    # the on-sale waiting room (services.waiting_room), by the events' own rule
    waiting_room = BooleanField("Waiting room: buyers queue from before the release and are let in a few at a time")
    admit_per_minute = IntegerField(
        "Buyers let in per minute (waiting room; 0 pauses)",
        default=600,
        validators=[Optional(), by_rule(EVENT_DETAILS["admit_per_minute"])],
    )
    currency = StringField(
        "Currency (ISO code, e.g. EUR, USD, JPY)",
        default=DEFAULT_CURRENCY,
        validators=[Optional(), by_rule(EVENT_DETAILS["currency"])],  # not sent: the event keeps its own
        render_kw={"maxlength": 3},
        description="Prices, fees and promo amounts are in it; it can change only until the first order.",
    )


class EventForm(_EventDetails):
    ticket_release_at = DateTimeLocalField(
        "Tickets on sale from (UTC; empty = now)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    venue_id = SelectField("Venue", coerce=int, choices=[])
    service_fee = StringField("Service fee per ticket", default="0", validators=[Optional(), AMOUNT])
    # one row to start with; "Add another ticket type" adds rows (manage.event_new), up to the events' limit
    ticket_types = FieldList(FormField(TicketTypeForm), min_entries=1, max_entries=50)


class EventEditForm(_EventDetails):
    ticket_release_at = DateTimeLocalField(
        "Tickets on sale from (UTC)", format="%Y-%m-%dT%H:%M", validators=[InputRequired()]
    )
    service_fee = StringField("Service fee per ticket", validators=[InputRequired(), AMOUNT])


class NewTicketTypeForm(FlaskForm, TicketTypeForm):
    """One more ticket type for an existing event. Its kind has its own id: the event page also
    shows the promo form, whose kind is another field."""

    kind = SelectField("Kind", id="type-kind", choices=[choice("seated", "Seated"), choice("ga", "General admission")])
    capacity = IntegerField("Capacity", id="type-capacity", validators=[Optional(), NumberRange(1, 1_000_000)])
    sections = CheckboxesField(
        "Sections (none ticked: every section)", id="type-sections", choices=[], validate_choice=False
    )


class TicketTypeEditForm(FlaskForm):
    """A ticket type after it exists (services.event_admin.update_ticket_type); one per type on the
    event page, each with its own prefix (``t<id>``) so names and ids stay unique."""

    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    price = StringField("Price", validators=[InputRequired(), AMOUNT])
    hidden = BooleanField("Hidden: not shown in the shop and not sold")
    capacity = IntegerField("Capacity", validators=[Optional(), NumberRange(1, 1_000_000)])
    sales_start = DateTimeLocalField(
        "On sale from (UTC; empty = with the event)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    sales_end = DateTimeLocalField(
        "On sale until (UTC; empty = no end)", format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    sections = CheckboxesField("Sections (none ticked: every section)", choices=[], validate_choice=False)
    zones = StringField(
        "Zones (numbers 1-16, comma separated; empty = all)",
        validators=[Optional(), Regexp(r"^\s*\d{1,2}(\s*,\s*\d{1,2})*\s*$", message="e.g. 1,2")],
    )


class PriceForm(FlaskForm):
    price = StringField("Price", validators=[InputRequired(), AMOUNT])


class PromoForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[
            InputRequired(),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$", message="2-40 letters, digits, - or _"),
        ],
    )
    kind = SelectField(
        "Kind", id="promo-kind", choices=[choice("percent", "Percent off"), choice("fixed", "Amount off")]
    )
    value = StringField("Value", validators=[InputRequired(), AMOUNT])
    max_uses = IntegerField("Usage limit (empty = unlimited)", validators=[Optional(), NumberRange(1, 1_000_000)])
    valid_from = DateTimeLocalField("Valid from (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()])
    valid_until = DateTimeLocalField("Valid until (UTC)", format="%Y-%m-%dT%H:%M", validators=[Optional()])


class CancelEventForm(FlaskForm):
    """The second step of cancelling an event: its title typed in (services.event_admin.cancel_event)."""

    confirm = StringField("Event title", validators=[InputRequired(), Length(max=300)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[choice(r, r) for r in ROLES])


class ActionForm(FlaskForm):
    """A button that changes something (refund, re-issue, mark paid): only the CSRF token."""


class LookupForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("Ticket number, order number, name or email", validators=[Optional(), Length(max=320)])


class StaffUserForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired(), EMAIL, Length(max=320)])
    password = PasswordField("Initial password", validators=[InputRequired(), Length(min=8, max=200)])
    role = SelectField("Role", choices=[choice(r, r) for r in ROLES], default=DOOR_STAFF)


class TotpSetupForm(TotpForm):
    pass


class DisableTotpForm(TotpForm):
    """Turning two-factor login off takes a current code: a borrowed session alone cannot."""


class ProfileForm(FlaskForm):
    name = StringField(
        "Your name", validators=[Optional(), Length(max=200)], description="Filled in for you at checkout."
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=200)])
    password = PasswordField("New password", validators=[InputRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat new password", validators=[EqualTo("password", message="the passwords differ")])


class EmailChangeForm(FlaskForm):
    email = EmailField("New email", validators=[InputRequired(), EMAIL, Length(max=320)])


class ConfirmForm(FlaskForm):
    """A step that only needs the page's CSRF token (a confirmation button)."""


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[InputRequired(), Length(max=200)])
