"""The Bot API's error answers, read from plain JSON, become the errors the desk acts on."""
import pytest

from channels.telegram import wire
from channels.telegram.api import BotAPI
from channels.telegram.errors import Blocked, Conflict, RateLimited, Refused, TokenRejected, Unreachable
from tests.conftest import free_port
from tests.fakes.telegram_api import TOKEN


@pytest.mark.parametrize(("status", "answer", "kind"), [
    (401, {"ok": False, "description": "Unauthorized"}, TokenRejected),
    (404, {"ok": False, "description": "Not Found"}, TokenRejected),
    (403, {"ok": False, "description": "Forbidden: bot was blocked by the user"}, Blocked),
    (409, {"ok": False, "description": "Conflict: terminated by other getUpdates request"}, Conflict),
    (400, {"ok": False, "description": "Bad Request: chat not found"}, Refused),
    (502, {"ok": False, "description": "Bad Gateway"}, Unreachable),
])
def test_error_answers_sort_by_status(status, answer, kind):
    error = wire._error(status, answer)
    assert type(error) is kind
    assert answer["description"] in str(error)


def test_rate_limit_waits_as_told_or_a_little_without_retry_after():
    told = wire._error(429, {"ok": False, "description": "Too Many Requests: retry after 7",
                             "parameters": {"retry_after": 7}})
    assert isinstance(told, RateLimited) and told.retry_after == 7.0
    bare = wire._error(429, {"ok": False, "description": "Too Many Requests"})
    assert isinstance(bare, RateLimited) and bare.retry_after == 1.0


async def test_a_server_that_is_not_there_is_unreachable_and_the_text_hides_the_token():
    api = BotAPI(TOKEN, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(Unreachable) as caught:
            await api.send_text("42", "hello")
    finally:
        await api.close()
    assert TOKEN not in str(caught.value) and TOKEN.split(":")[1] not in str(caught.value)
