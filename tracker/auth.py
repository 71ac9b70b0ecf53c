"""Tokens for API clients: ``POST /api/auth/token/`` with a username and password."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.errors import DomainError
from tracker.login_guard import failures_clear, locked_for, refusal_message
from tracker.throttling import TokenRequestThrottle


class LoginLocked(exceptions.Throttled):
    """Too many failed logins for this account from this address (429)."""

    default_code = "login_locked"

    def __init__(self, wait: int) -> None:
        super().__init__(wait=wait)
        self.detail = ErrorDetail(refusal_message(wait), code=self.default_code)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenView(APIView):
    """Exchange a username and password for the account's token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenRequestThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        request=TokenRequestSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        examples=[
            OpenApiExample(
                "Ask for a token",
                value={"username": "editor", "password": "correct horse battery staple"},
                request_only=True,
            ),
            OpenApiExample(
                "The token",
                value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"},
                response_only=True,
            ),
        ],
        description="Send the token back as `Authorization: Token KEY` on every request.",
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        wait = locked_for(request._request, serializer.validated_data["username"])
        if wait:
            raise LoginLocked(wait)
        user = authenticate(
            request=request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise DomainError(
                "That username and password do not match an active account.",
                field="password",
                code="invalid_credentials",
            )
        failures_clear(request._request, serializer.validated_data["username"])
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
