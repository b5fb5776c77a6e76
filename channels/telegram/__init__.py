"""The Telegram channel: one configured bot per channel instance, through aiogram 3."""
