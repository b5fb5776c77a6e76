"""What the demo's clients write, by topic and language (for `helpline demo seed`); {order}, {email}, {phone} get filled in."""
from __future__ import annotations

# topic -> (queue, complaint category or None, {language: [texts]})
TOPICS: dict[str, tuple[str, str | None, dict[str, list[str]]]] = {
    "late": ("delivery", "delivery_delay", {
        "en": ["My parcel {order} is late, it still has not arrived after two weeks", "Order {order} never arrived, call me on {phone}"],
        "ru": ["Посылка {order} опоздала уже на неделю, где мой заказ?", "Заказ {order} до сих пор не пришел, мой телефон {phone}"],
        "de": ["Mein Paket {order} ist verspätet und immer noch nicht angekommen", "Lieferung {order} ist seit Tagen verzögert"],
        "lv": ["Paka {order} kavējas, tā joprojām nav pienākusi", "Pasūtījums {order} kavējas jau nedēļu"],
        "hu": ["A csomagom {order} késik, még mindig nem érkezett meg", "A rendelés {order} késés miatt nem érkezett meg"],
        "uk": ["Посилка {order} запізнюється, досі не прийшла", "Замовлення {order} затримується вже тиждень"],
    }),
    "damaged": ("returns", "product_quality", {
        "en": ["The kettle arrived broken, the lid is cracked ({order})", "The blender is defective and stopped working after a day"],
        "ru": ["Чайник пришел сломанный, крышка треснула ({order})", "Блендер с браком, не работает"],
        "de": ["Der Wasserkocher kam kaputt an, der Deckel ist beschädigt ({order})"],
        "lv": ["Tējkanna atnāca salūzusi, vāks ir bojāts ({order})"],
        "hu": ["A vízforraló törött állapotban érkezett ({order})"],
    }),
    "double": ("billing", "billing_error", {
        "en": ["You charged my card {card} twice for order {order}", "I was charged twice, wrong amount on the invoice"],
        "ru": ["С карты {card} списали дважды за заказ {order}", "Двойное списание, верните деньги"],
        "de": ["Sie haben meine Karte {card} doppelt abgebucht"],
        "lv": ["No kartes {card} nauda noņemta divreiz"],
        "hu": ["Kétszer terhelték meg a kártyámat {card}"],
    }),
    "refund": ("returns", "billing_error", {
        "en": ["I returned the jacket a month ago and the refund has still not come, write to {email}"],
        "ru": ["Вернул куртку месяц назад, а возврат денег так и не пришел, пишите на {email}"],
        "de": ["Ich warte seit Wochen auf die Rückerstattung für {order}"],
        "uk": ["Повернення коштів за {order} досі не надійшло"],
    }),
    "rude": ("general", "rude_staff", {
        "en": ["Your agent on the phone was rude and hung up on me", "The courier was rude and unprofessional"],
        "ru": ["Оператор был груб и бросил трубку", "Курьер нахамил мне у двери"],
        "de": ["Der Mitarbeiter war sehr unfreundlich"],
        "lv": ["Kurjers bija rupjš un nepieklājīgs"],
        "hu": ["Az ügyintéző udvariatlan volt velem"],
    }),
    "login": ("tech", "app_error", {
        "en": ["I cannot log in to the app, the password reset email never comes to {email}", "Checkout crashes when I pay"],
        "ru": ["Не могу войти в приложение, пароль не сбрасывается", "При оплате сайт выдает ошибку"],
        "de": ["Ich kann mich nicht anmelden, die App stürzt ab"],
        "lv": ["Nevaru pieteikties lietotnē, parole neder"],
        "hu": ["Nem tudok bejelentkezni az alkalmazásba"],
    }),
    "question": ("sales", None, {
        "en": ["Do you have this sofa in grey?", "What size should I take for a 180 cm height?", "Do you ship to Estonia?"],
        "ru": ["Есть ли этот диван в сером цвете?", "Какой размер взять при росте 180?"],
        "de": ["Haben Sie das Sofa auch in Grau?", "Liefern Sie nach Österreich?"],
        "lv": ["Vai jums ir šis dīvāns pelēkā krāsā?"],
        "hu": ["Van ez a kanapé szürkében?"],
        "uk": ["Чи є цей диван у сірому кольорі?"],
    }),
    "where": ("delivery", None, {
        "en": ["Where is my order {order}?", "When will order {order} arrive?"],
        "ru": ["Где мой заказ {order}?"],
        "de": ["Wo ist meine Bestellung {order}?"],
        "lv": ["Kur ir mans pasūtījums {order}?"],
        "hu": ["Hol van a rendelésem {order}?"],
        "uk": ["Де моє замовлення {order}?"],
    }),
    "invoice": ("billing", None, {
        "en": ["Can I get an invoice for my company for order {order}?"],
        "ru": ["Можно счет на компанию за заказ {order}?"],
        "de": ["Kann ich eine Rechnung auf meine Firma bekommen?"],
    }),
}
# How often each topic comes up (the rest of the desk's work is questions).
WEIGHTS = {"late": 14, "damaged": 6, "double": 5, "refund": 5, "rude": 3, "login": 7, "question": 30, "where": 22, "invoice": 8}
LANGUAGES = {"en": 34, "ru": 22, "de": 10, "lv": 12, "hu": 10, "uk": 12}
CHANNELS = {"webchat": 50, "email": 30, "telegram": 20}
NAMES = {
    "en": ["Jane Cooper", "Tom Baker", "Emily Stone", "Oliver Reed", "Grace Hall"],
    "ru": ["Иван Петров", "Мария Смирнова", "Алексей Иванов", "Елена Кузнецова"],
    "de": ["Lukas Müller", "Anna Schmidt", "Jonas Weber"],
    "lv": ["Jānis Bērziņš", "Līga Ozola", "Mārtiņš Kalniņš"],
    "hu": ["Kovács Péter", "Nagy Eszter", "Tóth Gábor"],
    "uk": ["Олена Шевчук", "Андрій Коваленко", "Ірина Бондар"],
}
REPLIES = {
    "en": "Thank you, I have checked this for you and sorted it out.", "ru": "Спасибо, я все проверила и решила вопрос.",
    "de": "Danke, ich habe das geprüft und erledigt.", "lv": "Paldies, es to pārbaudīju un atrisināju.",
    "hu": "Köszönöm, ellenőriztem és elintéztem.", "uk": "Дякую, я все перевірила і вирішила.",
}
COMMENTS_LOW = {
    "en": ["Took far too long, terrible", "Nobody answered for days"], "ru": ["Слишком долго, ужасно", "Никто не отвечает"],
    "de": ["Viel zu langsam, schrecklich"], "lv": ["Pārāk ilgi, šausmīgi"], "hu": ["Túl lassú, borzalmas"],
    "uk": ["Занадто довго, жахливо"],
}
UNANSWERED = [
    ("en", "Do you have a store in Tartu?"), ("en", "Can I pay with PayPal?"), ("ru", "Можно ли оплатить при получении?"),
    ("de", "Gibt es einen Studentenrabatt?"), ("lv", "Vai var samaksāt ar pārskaitījumu?"), ("en", "Do you have a store in Tartu?"),
    ("hu", "Lehet részletre fizetni?"), ("en", "Can I pay with PayPal?"), ("ru", "Можно ли оплатить при получении?"),
    ("en", "Do you sell gift cards?"), ("uk", "Чи можна оплатити частинами?"),
]
