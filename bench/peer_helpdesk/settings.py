"""Django settings of the peer desk the new-tickets benchmark measures against (django-helpdesk 2.6).

The smallest project its REST API runs in: SQLite (path from PEER_DB), a locmem mail backend so no
mail leaves the machine, and DRF token authentication (one cheap lookup per request, as an
integration would use; basic auth would hash the password on every request).
"""
import os

BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "bench-only-not-secret-" + "x" * 30
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites", "django.contrib.humanize",
    "rest_framework", "rest_framework.authtoken", "helpdesk",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("PEER_DB", os.path.join(BASE_DIR, "peer.sqlite3")),
                         "OPTIONS": {"timeout": 30}}}
SITE_ID = 1
USE_TZ = True
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
HELPDESK_TEAMS_MODE_ENABLED = False
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
