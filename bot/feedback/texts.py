"""What the desk says to clients about surveys and complaints, in their language (English when unknown)."""
from __future__ import annotations

from datetime import datetime

SCORE_CHOICES: tuple[str, ...] = ("1", "2", "3", "4", "5")

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "question": "How did we do? Rate our help from 1 (very poor) to 5 (excellent).",
        "question_chat": "Tap a number below, or reply with one.",
        "question_link": "Choose your score below. The links work for {days} days; you can change your answer until then.",
        "thanks_ask_comment": "Thank you for your rating! If you like, tell us in one message what we could do better.",
        "thanks_comment": "Thank you, we have passed your comment on to the team.",
        "complaint_ack": "We have registered your complaint under reference {reference}. We will get back to you by {due}.",
        "complaint_resolved": "Your complaint {reference} has been resolved:\n{resolution}",
        "page_title": "How did we do?",
        "page_intro": "Your request #{number} was resolved. How would you rate our help?",
        "page_confirm": "Send my answer",
        "page_comment": "Anything you would like to add? (optional)",
        "page_thanks": "Thank you! Your answer is saved. You can change it with this link until {until}.",
        "page_expired": "This survey link has expired. Thank you all the same!",
        "page_unknown": "This survey link is not valid. Check that the whole link was copied.",
        "page_pick": "Please choose a score from 1 to 5.",
        "low": "very poor", "high": "excellent",
    },
    "ru": {
        "question": "Как мы справились? Оцените нашу помощь от 1 (очень плохо) до 5 (отлично).",
        "question_chat": "Нажмите на цифру ниже или ответьте цифрой.",
        "question_link": "Выберите оценку ниже. Ссылки действуют {days} дн.; до тех пор ответ можно изменить.",
        "thanks_ask_comment": "Спасибо за оценку! Если хотите, напишите одним сообщением, что нам стоит улучшить.",
        "thanks_comment": "Спасибо, мы передали ваш комментарий команде.",
        "complaint_ack": "Мы зарегистрировали вашу жалобу под номером {reference}. Мы ответим вам до {due}.",
        "complaint_resolved": "Ваша жалоба {reference} рассмотрена:\n{resolution}",
        "page_title": "Как мы справились?",
        "page_intro": "Ваше обращение #{number} решено. Как вы оцениваете нашу помощь?",
        "page_confirm": "Отправить ответ",
        "page_comment": "Хотите что-нибудь добавить? (необязательно)",
        "page_thanks": "Спасибо! Ответ сохранён. Изменить его по этой ссылке можно до {until}.",
        "page_expired": "Срок действия ссылки истёк. Всё равно спасибо!",
        "page_unknown": "Ссылка недействительна. Проверьте, что она скопирована целиком.",
        "page_pick": "Выберите оценку от 1 до 5.",
        "low": "очень плохо", "high": "отлично",
    },
    "uk": {
        "question": "Як ми впоралися? Оцініть нашу допомогу від 1 (дуже погано) до 5 (чудово).",
        "question_chat": "Натисніть цифру нижче або відповідайте цифрою.",
        "question_link": "Оберіть оцінку нижче. Посилання діють {days} дн.; до того відповідь можна змінити.",
        "thanks_ask_comment": "Дякуємо за оцінку! Якщо бажаєте, напишіть одним повідомленням, що нам варто покращити.",
        "thanks_comment": "Дякуємо, ми передали ваш коментар команді.",
        "complaint_ack": "Ми зареєстрували вашу скаргу під номером {reference}. Ми відповімо вам до {due}.",
        "complaint_resolved": "Вашу скаргу {reference} розглянуто:\n{resolution}",
    },
    "de": {
        "question": "Wie waren wir? Bewerten Sie unsere Hilfe von 1 (sehr schlecht) bis 5 (ausgezeichnet).",
        "question_chat": "Tippen Sie unten auf eine Zahl oder antworten Sie mit einer Zahl.",
        "question_link": "Wählen Sie unten Ihre Bewertung. Die Links gelten {days} Tage; bis dahin können Sie Ihre Antwort ändern.",
        "thanks_ask_comment": "Danke für Ihre Bewertung! Wenn Sie möchten, schreiben Sie uns in einer Nachricht, was wir besser machen können.",
        "thanks_comment": "Danke, wir haben Ihren Kommentar an das Team weitergegeben.",
        "complaint_ack": "Wir haben Ihre Beschwerde unter der Nummer {reference} erfasst. Sie hören von uns bis {due}.",
        "complaint_resolved": "Ihre Beschwerde {reference} ist erledigt:\n{resolution}",
    },
    "lv": {
        "question": "Kā mums veicās? Novērtējiet mūsu palīdzību no 1 (ļoti slikti) līdz 5 (izcili).",
        "question_chat": "Pieskarieties ciparam zemāk vai atbildiet ar ciparu.",
        "question_link": "Izvēlieties vērtējumu zemāk. Saites derīgas {days} dienas; līdz tam atbildi var mainīt.",
        "thanks_ask_comment": "Paldies par vērtējumu! Ja vēlaties, vienā ziņā uzrakstiet, ko mēs varētu uzlabot.",
        "thanks_comment": "Paldies, mēs nodevām jūsu komentāru komandai.",
        "complaint_ack": "Mēs reģistrējām jūsu sūdzību ar numuru {reference}. Atbildēsim līdz {due}.",
        "complaint_resolved": "Jūsu sūdzība {reference} ir izskatīta:\n{resolution}",
    },
    "hu": {
        "question": "Hogyan teljesítettünk? Értékelje segítségünket 1-től (nagyon rossz) 5-ig (kiváló).",
        "question_chat": "Koppintson egy számra lent, vagy válaszoljon egy számmal.",
        "question_link": "Válasszon értékelést lent. A linkek {days} napig érvényesek; addig a válasz módosítható.",
        "thanks_ask_comment": "Köszönjük az értékelést! Ha szeretné, írja meg egy üzenetben, min javíthatnánk.",
        "thanks_comment": "Köszönjük, továbbítottuk megjegyzését a csapatnak.",
        "complaint_ack": "Panaszát {reference} számon nyilvántartásba vettük. {due}-ig válaszolunk.",
        "complaint_resolved": "{reference} számú panaszát lezártuk:\n{resolution}",
    },
}


def text(language: str, key: str, **values) -> str:
    """A client-facing text in the language, falling back to English for a missing language or key."""
    table = _TEXTS.get((language or "en")[:2], _TEXTS["en"])
    template = table.get(key) or _TEXTS["en"][key]
    return template.format(**values)


def survey_question(language: str, link: str | None, link_days: float) -> str:
    """The survey message: buttons below it on chat channels; on channels without buttons one link
    per score, each opening the survey page with that score chosen (the page asks to confirm)."""
    if not link:
        return f"{text(language, 'question')}\n{text(language, 'question_chat')}"
    links = "\n".join(f"{score}: {link}?score={score}" for score in SCORE_CHOICES)
    return f"{text(language, 'question')}\n{text(language, 'question_link', days=round(link_days))}\n\n{links}"


def local_date(moment: datetime, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d")
