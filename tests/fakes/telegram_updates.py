"""Telegram Update objects as the Bot API sends them, for tests that play a Telegram user."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

DATE = 1795500000


@dataclass
class TelegramUser:
    """A person writing to the bot in a private chat; message ids count per chat, as in Telegram."""

    id: int = 5012345678
    first_name: str = "Līga"
    last_name: str = "Ozola"
    language_code: str = "lv"
    _ids: itertools.count = field(default_factory=lambda: itertools.count(100))

    @property
    def user(self) -> dict:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name, "last_name": self.last_name,
                "language_code": self.language_code}

    @property
    def chat(self) -> dict:
        return {"id": self.id, "first_name": self.first_name, "last_name": self.last_name, "type": "private"}

    def next_id(self) -> int:
        return next(self._ids)

    def message(self, message_id: int | None = None, **content) -> dict:
        message = {"message_id": message_id or self.next_id(), "from": self.user, "chat": self.chat, "date": DATE}
        message.update(content)
        return {"message": message}

    def text(self, text: str, message_id: int | None = None, **extra) -> dict:
        return self.message(message_id, text=text, **extra)

    def edit(self, message_id: int, text: str) -> dict:
        return {"edited_message": {"message_id": message_id, "from": self.user, "chat": self.chat, "date": DATE,
                                   "edit_date": DATE + 60, "text": text}}

    def photo(self, file_id: str, size: int, caption: str = "", group: str = "", message_id: int | None = None) -> dict:
        content = {"photo": [{"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size, "width": 1280, "height": 960}]}
        if caption:
            content["caption"] = caption
        if group:
            content["media_group_id"] = group
        return self.message(message_id, **content)

    def document(self, file_id: str, size: int, name: str, mime: str, group: str = "") -> dict:
        content = {"document": {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name, "mime_type": mime,
                                "file_size": size}}
        if group:
            content["media_group_id"] = group
        return self.message(**content)

    def voice(self, file_id: str, size: int, duration: int = 5, message_id: int | None = None) -> dict:
        return self.message(message_id, voice={"file_id": file_id, "file_unique_id": f"u{file_id}", "duration": duration,
                                   "mime_type": "audio/ogg", "file_size": size})

    def contact(self, phone: str, own: bool = True) -> dict:
        return self.message(contact={"phone_number": phone, "first_name": self.first_name,
                                     **({"user_id": self.id} if own else {})})

    def press(self, data: str, keyboard_message: dict, query_id: str) -> dict:
        return {"callback_query": {"id": query_id, "from": self.user, "chat_instance": "-1", "data": data,
                                   "message": keyboard_message}}

    def blocked(self, blocked: bool = True) -> dict:
        bot = {"id": 123456789, "is_bot": True, "first_name": "Shop help", "username": "shop_help_bot"}
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        return {"my_chat_member": {"chat": self.chat, "from": self.user, "date": DATE,
                                   "old_chat_member": {"user": bot, "status": old},
                                   "new_chat_member": {"user": bot, "status": new, **({"until_date": 0} if blocked else {})}}}


def group_text(text: str, user: TelegramUser) -> dict:
    return {"message": {"message_id": 9001, "from": user.user, "chat": {"id": -1001987654321, "title": "Fans", "type": "supergroup"},
                        "date": DATE, "text": text}}
