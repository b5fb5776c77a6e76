"""The dialogue as a pure function: greeting, hours, FAQ feedback, forms, hand-off words, language switch."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.config import parse_settings
from bot.dialogue.i18n import default_catalogs
from bot.dialogue.setup import build_self_service
from bot.dialogue.state import ASK, DONE, FEEDBACK, FORM, DialogueState, Incoming, Situation
from tests.dialogue.conftest import DEMO_KB

MONDAY_NOON = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # 12:00 in Riga
SATURDAY = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)


def service_for(**bot):
    values = {"enabled": True, "knowledge_base": str(DEMO_KB),
              "forms": [{"queues": ["delivery", "returns"], "fields": ["order_number"]},
                        {"channels": ["webchat"], "fields": ["email"]}]}
    values.update(bot)
    settings = parse_settings({"desk": {"time_zone": "Europe/Riga", "name": "Northwind"},
                               "web": {"secret_key": "k" * 40}, "bot": values,
                               "queues": [{"name": q} for q in ("general", "delivery", "returns", "sales")]})
    return build_self_service(settings, guess_queue=lambda text, language: ("delivery", 0.9))


@pytest.fixture(scope="module")
def service():
    return service_for()


class Talk:
    """A client talking to the pure dialogue; keeps the state between messages as the desk would."""

    def __init__(self, service, hints=("en",), now=MONDAY_NOON, channel="webchat", known_email=False):
        self.service, self.state, self.n = service, DialogueState(), 0
        self.situation = Situation(now, channel, tuple(hints), known_email)

    def say(self, text, attachments=0):
        self.n += 1
        return self.service.step(self.state, Incoming(self.n, text, attachments=attachments), self.situation)


def test_greets_in_the_client_language_and_answers_from_the_faq(service):
    talk = Talk(service, hints=("en",))
    out = talk.say("Mennyi idő alatt érkezik meg a csomag?")
    assert talk.state.language == "hu" and talk.state.stage == FEEDBACK
    assert out.replies[0].text.startswith("Üdvözlöm")
    assert "munkanap" in out.replies[1].text
    assert out.replies[2].choices == ("Igen", "Nem", "Munkatársat kérek")
    out = talk.say("Igen")
    assert out.resolved and talk.state.stage == ASK and talk.state.answered == ["delivery-time"]


def test_out_of_hours_says_when_the_team_is_back(service):
    talk = Talk(service, now=SATURDAY)
    out = talk.say("hello")
    assert "back on Monday at 09:00" in out.replies[0].text
    out = talk.say("operator")
    assert out.handoff == "client asked" and "Our team is back on Monday at 09:00" in out.replies[-1].text


def test_response_time_during_hours():
    talk = Talk(service_for(response_minutes=15), hints=("lv",))
    out = talk.say("operators")
    assert "15 minūšu" in out.replies[-1].text


def test_miss_then_form_with_a_wrong_then_a_right_order_number(service):
    talk = Talk(service, hints=("lv",))
    out = talk.say("Vai jūs pārdodat lietotas mašīnas?")
    assert out.unanswered and out.unanswered[0].kind in ("no_match", "no_translation")
    assert talk.state.stage == FORM and talk.state.pending_field == "order_number"
    assert out.replies[-1].choices == ("Izlaist", "Runāt ar cilvēku")
    out = talk.say("12345")
    assert "NW-123456" in out.replies[0].text and talk.state.retries == 1 and not out.handoff
    out = talk.say("nw-204518")
    assert talk.state.fields["order_number"] == "NW-204518" and talk.state.pending_field == "email"
    out = talk.say("anna@example.com")
    assert out.handoff and out.claimed_email == "anna@example.com" and talk.state.stage == DONE


def test_a_field_that_fails_twice_is_passed_on_as_written(service):
    talk = Talk(service, known_email=True)
    talk.say("I want to know something nobody wrote down about zebras")
    talk.say("abc")
    out = talk.say("still no idea what you mean")
    assert out.handoff and talk.state.unreadable["order_number"] == "still no idea what you mean"


def test_skip_and_a_number_for_a_choice(service):
    talk = Talk(service, hints=("en",), channel="email")
    talk.say("something about zebras that the FAQ does not know")
    out = talk.say("1")  # the first option, as channels without buttons number them
    assert "order_number" in talk.state.skipped and out.handoff


def test_order_number_already_given_is_not_asked_again(service):
    talk = Talk(service, hints=("lv",), known_email=True)
    talk.say("Sveiki! Pasūtījums NW-555123, vai jūs pārdodat lietotas mašīnas?")
    assert talk.state.fields == {"order_number": "NW-555123"} and talk.state.stage == DONE


def test_answer_did_not_help_is_recorded_then_form(service):
    talk = Talk(service, hints=("ru",))
    talk.say("где мой заказ?")
    out = talk.say("Нет")
    assert out.unanswered[0].kind == "not_helpful" and out.unanswered[0].article == "order-tracking"
    assert talk.state.stage == FORM


def test_no_translation_says_so_and_hands_off(service):
    talk = Talk(service, hints=("de",), known_email=True)
    out = talk.say("Wir brauchen ein Angebot für 30 Tische im Großhandel")  # business-quotes exists in English only
    assert talk.state.language == "de"
    assert "nur auf" in out.replies[1].text and out.unanswered[0].kind == "no_translation"


HANDOFF_WORDS = {"en": "operator please", "ru": "позовите оператора", "uk": "покличте людину",
                 "hu": "ügyintézőt kérek", "lv": "operators", "de": "Mitarbeiter bitte"}


@pytest.mark.parametrize("language, text", sorted(HANDOFF_WORDS.items()))
def test_hand_off_words_in_every_language(service, language, text):
    talk = Talk(service, hints=(language,))
    talk.say("hello")
    out = talk.say(text)
    assert out.handoff == "client asked" and talk.state.stage == DONE


def test_every_catalog_has_hand_off_words():
    for language, translator in default_catalogs().translators.items():
        assert translator.own_words("handoff"), f"{language} has no hand-off words"


def test_the_hand_off_button_works_in_any_stage(service):
    talk = Talk(service, hints=("hu",))
    talk.say("hol van a rendelésem?")
    out = talk.say("Munkatársat kérek")
    assert out.handoff == "client asked"


def test_a_long_message_mentioning_an_operator_is_a_question(service):
    talk = Talk(service)
    out = talk.say("The operator of the courier company was rude and threw my parcel over the fence yesterday evening")
    assert out.handoff != "client asked"


def test_language_switch_repeats_the_pending_question(service):
    talk = Talk(service, hints=("ru",))
    talk.say("что-то про зебр, чего нет в базе знаний")
    assert talk.state.stage == FORM and talk.state.language == "ru"
    out = talk.say("in English please")
    assert talk.state.language == "en"
    assert out.replies[0].text == "All right, I will write in English."
    assert "order number" in out.replies[1].text and out.replies[1].choices == ("Skip", "Talk to a person")
    out = talk.say("Skip")
    assert "order_number" in talk.state.skipped


def test_attachment_only_goes_to_a_person(service):
    talk = Talk(service)
    out = talk.say("", attachments=1)
    assert out.handoff == "attachment"


def test_small_talk_asks_how_to_help(service):
    talk = Talk(service)
    talk.say("hi")
    out = talk.say("hello")
    assert [r.text for r in out.replies] == ["How can I help you?"] and not out.unanswered


def test_done_dialogue_stays_silent(service):
    talk = Talk(service)
    talk.say("operator")
    assert talk.say("hello?").replies == []


def test_configured_welcome_wins():
    talk = Talk(service_for(welcome={"en": "Welcome to Northwind!"}))
    assert talk.say("hi").replies[0].text == "Welcome to Northwind!"


def test_state_round_trips_through_json(service):
    talk = Talk(service)
    talk.say("something about zebras the FAQ does not know")
    restored = DialogueState.from_json({**talk.state.to_json(), "unknown_key": 1})
    assert restored == talk.state


def test_a_client_who_leaves_a_form_is_handed_over(service):
    talk = Talk(service, hints=("hu",))
    talk.say("árultok használt autót?")
    assert talk.state.stage == FORM
    out = service.abandon(talk.state, talk.situation)
    assert out.handoff == "client left the form" and talk.state.stage == DONE
    assert out.replies[0].text.startswith("Köszönöm.")
    assert service.abandon(talk.state, talk.situation).replies == []  # once only


def test_naming_a_language_is_not_asking_for_it(service):
    talk = Talk(service, hints=("en",))
    talk.say("hi")
    talk.say("Russian doll price?")
    assert talk.state.language == "en"
    talk.say("Magyarul kérem!")
    assert talk.state.language == "hu"
