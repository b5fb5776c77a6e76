"""The peer desk's URLs: only django-helpdesk (its REST API lives under /helpdesk/api/)."""
from django.urls import include, path

urlpatterns = [path("helpdesk/", include("helpdesk.urls", namespace="helpdesk"))]
