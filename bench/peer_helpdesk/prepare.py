"""Create the peer desk's database: migrate, one queue, one staff user with an API token.

Run with the peer venv's Python from this folder; prints {"queue": id, "token": key} as JSON.
"""
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from helpdesk.models import Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)
queue, _ = Queue.objects.get_or_create(slug="general", defaults={"title": "General"})
user, created = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True, "is_superuser": True})
if created:
    user.set_unusable_password()
    user.save()
token, _ = Token.objects.get_or_create(user=user)
print(json.dumps({"queue": queue.id, "token": token.key}))
