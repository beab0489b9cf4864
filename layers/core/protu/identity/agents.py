"""What a User-Agent string says about a session, in words a person recognises: the browser and its major version,
and the operating system (with its version where the string tells it truthfully: iOS, Android).

Only the common browsers are named; any other client is named by its first product token (``curl 8``,
``python-requests 2``), so two sessions can still be told apart. The string is at most 256 characters (what a
session keeps) and every pattern is linear, so no input makes this slow. Windows and macOS versions are not told:
browsers freeze them (``Windows NT 10.0`` is 10 and 11, ``Mac OS X 10_15_7`` every macOS since).
"""

from __future__ import annotations

import re

import msgspec

_MAX = 256

# Checked in order: Edge, Opera and Samsung Internet also say "Chrome/" and "Safari/", Chrome says "Safari/".
_BROWSERS = (
    ("Edge", re.compile(r"\b(?:Edg|EdgA|EdgiOS|Edge)/(\d+)")),
    ("Opera", re.compile(r"\b(?:OPR|OPiOS)/(\d+)")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/(\d+)")),
    ("Firefox", re.compile(r"\b(?:Firefox|FxiOS)/(\d+)")),
    ("Chromium", re.compile(r"\bChromium/(\d+)")),
    ("Chrome", re.compile(r"\b(?:Chrome|CriOS|HeadlessChrome)/(\d+)")),
    ("Safari", re.compile(r"\bVersion/(\d+)(?:\.\d+)*(?: Mobile/\S+)? Safari/")),
)
_IOS = re.compile(r"\b(?:iPhone|iPad|iPod)\b.*?\bOS (\d+)(?:_(\d+))?")
_ANDROID = re.compile(r"\bAndroid (\d+)(?:\.(\d+))?")
_SYSTEMS = (
    ("Windows", re.compile(r"\bWindows\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)
_PRODUCT = re.compile(r"^([A-Za-z][A-Za-z0-9._-]{0,31})/(\d+)")


class Agent(msgspec.Struct, frozen=True):
    browser: str | None  # "Firefox"; None when the string names nothing recognisable
    version: str | None  # the browser's major version, "128"
    system: str | None  # "Windows", "iOS 17.5", "Android 14"


def parse(user_agent: str | None) -> Agent:
    ua = (user_agent or "")[:_MAX]
    browser = version = None
    for name, pattern in _BROWSERS:
        if found := pattern.search(ua):
            browser, version = name, found.group(1)
            break
    if browser is None and not ua.startswith("Mozilla/") and (found := _PRODUCT.match(ua)):
        browser, version = found.group(1), found.group(2)  # a tool or library: curl/8.5.0, python-requests/2.32
    return Agent(browser, version, _system(ua))


def _system(ua: str) -> str | None:
    if found := _IOS.search(ua):
        return _versioned("iOS", found)
    if found := _ANDROID.search(ua):  # before Linux: Android's strings say "Linux" too
        return _versioned("Android", found)
    return next((name for name, pattern in _SYSTEMS if pattern.search(ua)), None)


def _versioned(name: str, found: re.Match) -> str:
    major, minor = found.group(1), found.group(2)
    return f"{name} {major}.{minor}" if minor and minor != "0" else f"{name} {major}"
