"""Default word lists: complaint words, complaint categories and digest themes, in the desk's languages.

Keywords match folded text (router.rules.keyword_pattern: no case, no diacritics, Cyrillic also in
Latin letters); a trailing "*" matches word beginnings. Every list can be replaced in the config.
"""
from __future__ import annotations

# Words in a survey comment that make it a complaint whatever the score.
COMPLAINT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("complain*", "complaint*", "terrible", "awful", "horrible", "worst", "unacceptable", "disgusting",
           "scam", "fraud", "never again", "lawyer", "disappointed", "rude"),
    "ru": ("жалоб*", "ужасн*", "кошмар*", "отвратительн*", "безобрази*", "обман*", "мошенни*",
           "никогда больше", "хамств*", "разочарован*"),
    "uk": ("скарг*", "жахлив*", "обман*", "шахра*", "ніколи більше", "розчарован*", "хамств*"),
    "de": ("beschwerde*", "schrecklich", "furchtbar", "inakzeptabel", "unverschämt", "betrug", "nie wieder",
           "enttäuscht"),
    "lv": ("sūdzīb*", "briesmīg*", "šausmīg*", "krāpniec*", "nekad vairs", "vīlies", "vīlusies", "rupj*"),
    "hu": ("panasz*", "borzalmas", "szörnyű", "elfogadhatatlan", "csalás", "soha többé", "csalód*"),
    "lt": ("skund*", "baisu", "siaubing*", "apgavyst*"),
    "et": ("kaebus*", "kohutav", "pettus*", "vastuvõetamatu"),
    "pl": ("skarg*", "reklamacj*", "okropn*", "oszust*", "nigdy więcej", "skandal*"),
}

CATEGORIES: tuple[str, ...] = ("delivery_delay", "product_quality", "rude_staff", "billing_error", "app_error", "other")

# A complaint filed without a category gets the first one whose words occur in its text, else "other".
CATEGORY_KEYWORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "rude_staff": {"any": (
        "rude", "impolite", "unprofessional", "disrespectful", "shouted", "hung up", "хам*", "груб*", "невежлив*",
        "неввічлив*", "unfreundlich", "unhöflich", "rupj*", "nepieklājīg*", "udvariatlan*", "goromba", "bunkó",
        "nemandag*", "ebaviisakas", "niegrzeczn*", "chamsk*")},
    "billing_error": {"any": (
        "charged twice", "double charge*", "overcharg*", "wrong amount", "refund*", "invoice*", "charged",
        "списал*", "двойн*", "переплат*", "возврат* денег", "деньги не вернули", "двічі", "повернення коштів",
        "doppelt", "abgebucht", "rechnung*", "rückerstattung*", "divreiz", "rēķin*", "atmaks*", "kétszer",
        "számla*", "visszatérít*", "terhel*", "dwa razy", "podwójn*", "faktur*", "zwrot*", "arve*", "sąskait*")},
    "app_error": {"any": (
        "app", "website", "crash*", "error", "bug", "log in", "login", "checkout", "приложени*", "сайт*",
        "ошибк*", "войти", "вылета*", "застосун*", "додаток", "помилк*", "webseite", "fehler*", "absturz",
        "anmelden", "lietotn*", "mājaslap*", "kļūd*", "alkalmazás*", "weboldal*", "hiba*", "bejelentkez*",
        "aplikacj*", "błąd*", "programėl*", "klaida*", "rakendus*", "viga")},
    "product_quality": {"any": (
        "broken", "damaged", "defective", "faulty", "poor quality", "stopped working", "cracked", "слом*",
        "брак*", "поврежд*", "некачествен*", "не работает", "злам*", "пошкоджен*", "kaputt", "beschädigt",
        "defekt*", "mangelhaft", "salūz*", "bojāt*", "hibás*", "törött", "sérült*", "elromlott", "uszkodz*",
        "zepsut*", "wadliw*", "sugedo", "sugadint*", "katki")},
    "delivery_delay": {"any": (
        "late", "delay*", "not arrived", "hasn't arrived", "has not arrived", "still waiting", "never arrived",
        "courier", "delivery", "опозд*", "задерж*", "не пришел", "не пришла", "не пришло", "не доставил*",
        "курьер*", "доставк*", "запізн*", "затрим*", "не прийшл*", "доставк*", "verspät*", "verzöger*",
        "nicht angekommen", "lieferung*", "kavē*", "nav pienāc*", "piegād*", "kurjer*", "késik", "késés*",
        "késett", "nem érkezett", "futár*", "szállítás*", "vėluoja", "nepristat*", "hiline*", "opóźni*",
        "nie dotarł*", "kurier*")},
}

# Recurring themes in the digest: finer than categories and the same in every language.
THEMES: tuple[dict, ...] = (
    {"name": "Parcel late or not arrived", "keywords": {"any": (
        "late", "delay*", "not arrived", "hasn't arrived", "has not arrived", "never arrived", "still waiting",
        "опозд*", "задерж*", "не пришел", "не пришла", "не пришло", "не доставил*", "запізн*", "затрим*",
        "не прийшл*", "verspät*", "verzöger*", "nicht angekommen", "kavē*", "nav pienāc*", "késik", "késés*",
        "késett", "nem érkezett", "vėluoja", "nepristat*", "hiline*", "opóźni*", "nie dotarł*")}},
    {"name": "Item broken or damaged", "keywords": {"any": (
        "broken", "damaged", "defective", "faulty", "cracked", "stopped working", "слом*", "брак*", "поврежд*",
        "злам*", "пошкоджен*", "kaputt", "beschädigt", "defekt*", "salūz*", "bojāt*", "hibás*", "törött",
        "sérült*", "elromlott", "uszkodz*", "zepsut*", "wadliw*", "sugedo", "katki")}},
    {"name": "Charged twice or wrong amount", "keywords": {"any": (
        "charged twice", "twice", "double charge*", "overcharg*", "wrong amount", "дважды", "двойн* списан*",
        "двічі", "doppelt", "falsch berechnet", "divreiz", "kétszer", "dwa razy", "podwójn*")}},
    {"name": "Refund not received", "keywords": {"any": (
        "refund*", "money back", "возврат*", "верн* деньги", "деньги не вернули", "повернення", "rückerstattung*",
        "geld zurück", "atmaks*", "naudu atpakaļ", "visszatérít*", "pénz* vissza", "zwrot*", "grąžin*")}},
    {"name": "Rude or unhelpful staff", "keywords": {"any": (
        "rude", "impolite", "unprofessional", "disrespectful", "shouted", "hung up", "хам*", "нахам*", "груб*",
        "невежлив*", "неввічлив*", "unfreundlich", "unhöflich", "rupj*", "nepieklājīg*", "udvariatlan*",
        "goromba", "bunkó", "nemandag*", "ebaviisakas", "niegrzeczn*", "chamsk*")}},
    {"name": "Cannot log in or pay on the site", "keywords": {"any": (
        "log in", "login", "checkout", "password", "crash*", "войти", "вход*", "пароль", "оплат*", "вылета*",
        "увійти", "anmelden", "passwort", "bezahl*", "pieteikt*", "parol*", "apmaks*", "bejelentkez*", "jelszó",
        "fizet*", "zalogow*", "hasło", "płatnoś*", "prisijung*")}},
    {"name": "No answer from support", "keywords": {"any": (
        "no answer", "no reply", "nobody answers", "no one answers", "ignored", "никто не отвечает", "не отвечают",
        "игнорир*", "ніхто не відповідає", "не відповідають", "keine antwort", "antwortet niemand", "neviens neatbild",
        "neatbild*", "nem válaszol*", "senki nem", "brak odpowiedzi", "nikt nie odpowiada")}},
)

DEFAULT_MASKS: dict[str, str] = {
    # Order: a card number is masked before its digits could be read as a phone number.
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "card": r"\b(?:\d[ -]?){12,18}\d\b",
    "order": r"(?i)(?:\bnw[\s_#-]*|#|\border\s*(?:no\.?|number|nr\.?)?\s*:?\s*)\d{4,12}\b",
    "phone": r"(?<![\w+])\+?\d[\d ().-]{6,}\d\b",
}
