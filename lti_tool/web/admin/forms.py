"""The console's forms (Flask-WTF: every one carries a CSRF token)."""
from __future__ import annotations

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, Form, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields import FieldList, FormField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import get_translations as wtforms_translations
from wtforms.validators import DataRequired, Length, Optional

from ...domain.prices import UpgradePricing

NUMBER = {"inputmode": "decimal", "autocomplete": "off"}
WHOLE = {"inputmode": "numeric", "autocomplete": "off"}


class _WtformsMessages:
    """WTForms' own catalogue for its built-in messages ("This field is required."), in the page's language."""

    def get_translations(self, form):
        return wtforms_translations([str(get_locale() or "sv"), "en"])


class ConsoleForm(FlaskForm):
    Meta = _WtformsMessages


class SignInForm(ConsoleForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=320)],
                        render_kw={"autocomplete": "username", "type": "email", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class ActionForm(ConsoleForm):
    """A button that changes something: nothing but the CSRF token."""


class ApproveDeploymentForm(ConsoleForm):
    deployment_id = StringField(_l("Deployment ID (as the LMS shows it)"),
                                validators=[DataRequired(), Length(max=255)], render_kw={"autocomplete": "off"})
    submit = SubmitField(_l("Approve deployment"))


class ModuleForm(Form):
    """One module row; a plain wtforms Form, as a subform must not carry a CSRF token of its own."""

    Meta = _WtformsMessages

    key = StringField(_l("Key"), validators=[Length(max=100)], render_kw={"autocomplete": "off"})
    name_sv = StringField(_l("Name in Swedish"), validators=[Length(max=300)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=300)])
    pass_mark_percent = StringField(_l("Pass mark (%)"), validators=[Length(max=30)], render_kw=NUMBER)
    remove = BooleanField(_l("Remove this module when saving"))


UPGRADE_CHOICES = [
    SelectChoice(UpgradePricing.CREDIT_MODULES_PAID.value, _l("Credit what was paid for the modules")),
    SelectChoice(UpgradePricing.FULL_PRICE.value, _l("Full price; the modules stay charged")),
]


class ProgrammeForm(ConsoleForm):
    # The version the form was opened on: saving refuses if someone saved a newer one meanwhile.
    base_version = HiddenField()
    name_sv = StringField(_l("Name in Swedish"), validators=[Length(max=300)])
    name_en = StringField(_l("Name in English"), validators=[Length(max=300)])
    duration_weeks = StringField(_l("Duration (weeks)"), validators=[Length(max=30)], render_kw=WHOLE)
    validity_years = StringField(_l("Certificate valid for (years; empty: no expiry)"),
                                 validators=[Optional(), Length(max=30)], render_kw=WHOLE)
    full_programme_sek = StringField(_l("Full programme price (SEK)"), validators=[Length(max=30)], render_kw=NUMBER)
    member_discount_percent = StringField(_l("SKNT member discount (%)"), validators=[Length(max=30)],
                                          render_kw=NUMBER)
    per_module_sek = StringField(_l("Price per module (SEK; empty: module-only enrolments are not priced)"),
                                 validators=[Optional(), Length(max=30)], render_kw=NUMBER)
    upgrade = SelectField(_l("Upgrade from modules to the full programme"), choices=UPGRADE_CHOICES)
    exam_pass_mark_percent = StringField(_l("Final exam pass mark (%)"), validators=[Length(max=30)],
                                         render_kw=NUMBER)
    exam_max_attempts = StringField(_l("Final exam attempts (empty: unlimited)"),
                                    validators=[Optional(), Length(max=30)], render_kw=WHOLE)
    modules = FieldList(FormField(ModuleForm), min_entries=0, max_entries=200)
    add_module = SubmitField(_l("Add a module"))
    save = SubmitField(_l("Save"))


class ProgrammeUploadForm(ConsoleForm):
    file = FileField(_l("Programme file (TOML)"), validators=[FileRequired()],
                     render_kw={"accept": ".toml,application/toml,text/plain"})
    submit = SubmitField(_l("Upload and save"))
