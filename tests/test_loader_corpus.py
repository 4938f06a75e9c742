"""Bad input, as a user types it: every case is one clear message with file:line and an exit code,
never a traceback, never a secret, never a megabyte echoed back (issue 10, loader level).

Each case runs the real CLI (``reconciler validate``, or ``plan`` where the check happens when the
accounts are opened) on its own files. The environment holds a canary API key, and the cases
put canary Telnyx PINs in the YAML: neither may appear in the output. ``plan`` cases point the
embedded sandbox at a file that must still not exist afterwards: nothing was opened or sent.
Then a hypothesis fuzz: random YAML trees and random mutations of the shipped example load or
raise ``ConfigError``, nothing else.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loader import PROVIDERS

from reconciler.cli import main
from reconciler.errors import ConfigError
from reconciler.loader import load

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "desired-state"

KEY = "CANARYKEY-7d1f0c9e55"
"""The API key in the environment (WX_KEY, TX_KEY): never printed."""
PIN = "CANARYPIN-4242"
"""A Telnyx external_pin written in the YAML: never printed."""
PIN_DIGITS = "90817263544"
"""A PIN YAML reads as an integer: never printed either."""
SECRETS = (KEY, "CANARYKEY", PIN, "CANARYPIN", PIN_DIGITS)
ENV = {"WX_KEY": KEY, "TX_KEY": KEY, "EMPTY_KEY": ""}
BIG = 1_000_000
"""A megabyte value: messages must cut it (about 80 characters)."""

P = PROVIDERS  # wx (Wavix) and tx (Telnyx) on the sandbox, lines 1-7


def entry(provider: str = "wx", number: str = "'+1313555*'", rest: str = "profile: p") -> str:
    """One numbers entry in block style (three lines)."""
    return f"  - provider: {provider}\n    number: {number}\n    {rest}\n"


PROFILE = "profiles:\n  p: {sms_enabled: true}\n"  # lines 8-9 after P
TX_PROFILE = "profiles:\n  t: {hd_voice_enabled: true}\n"


@dataclass
class Case:
    files: dict[str, str | bytes]
    code: int
    fragments: tuple[str, ...]
    command: str = "validate"
    env: dict[str, str] = field(default_factory=dict)


def one(text: str | bytes, code: int, *fragments: str, command: str = "validate") -> Case:
    return Case({"config.yaml": text}, code, fragments, command)


CASES: dict[str, Case] = {
    # ---- a list or mapping (or number, boolean) where a name or reference is expected
    "provider is a list": one(
        P + PROFILE + "numbers:\n" + entry("[wx]"),
        1,
        "config.yaml:11: provider must be the name of one of the accounts under providers, "
        "not a list",
    ),
    "provider is a mapping": one(
        P + PROFILE + "numbers:\n" + entry("{name: wx}"), 1, "config.yaml:11: provider must be"
    ),
    "provider is a number": one(
        P + PROFILE + "numbers:\n" + entry("123"), 1, "config.yaml:11: provider must be", "quote it"
    ),
    "profile is a list": one(
        P + PROFILE + "numbers:\n" + entry(rest="profile: [p]"),
        1,
        "config.yaml:13: profile must be the name of one of the profiles, not a list",
    ),
    "profile is a mapping": one(
        P + PROFILE + "numbers:\n" + entry(rest="profile: {p: 1}"),
        1,
        "config.yaml:13: profile must",
    ),
    "profile is a boolean": one(
        P + PROFILE + "numbers:\n" + entry(rest="profile: yes"),
        1,
        "config.yaml:13: profile must be the name of one of the profiles, not a boolean",
    ),
    "profile is null": one(
        P + PROFILE + "numbers:\n" + entry(rest="profile: null"),
        1,
        "config.yaml:13: profile must be the name of one of the profiles, not null\n",
    ),
    "number is a list": one(
        P + PROFILE + "numbers:\n" + entry(number="['+1313555*']"),
        1,
        "config.yaml:12: number must be a quoted string",
    ),
    "number is a mapping": one(
        P + PROFILE + "numbers:\n" + entry(number="{e164: '+13135550100'}"),
        1,
        "config.yaml:12: number must be a quoted string",
    ),
    "number is a boolean": one(
        P + PROFILE + "numbers:\n" + entry(number="true"),
        1,
        "config.yaml:12: number must be a quoted",
    ),
    "number is a float": one(
        P + PROFILE + "numbers:\n" + entry(number="1.5"),
        1,
        "config.yaml:12: number must be a quoted",
    ),
    "settings is a list": one(
        P + "numbers:\n" + entry(rest="settings: [sms_enabled]"),
        1,
        "config.yaml:11: settings must be a mapping, not a list",
    ),
    "settings is text": one(
        P + "numbers:\n" + entry(rest="settings: sms_enabled"),
        1,
        "config.yaml:11: settings must be a mapping, not text",
    ),
    "providers is a list": one(
        "providers: [wx, tx]\n", 1, "config.yaml:1: providers must be a mapping"
    ),
    "profiles is a list": one(
        P + "profiles: [p]\n", 1, "config.yaml:8: profiles must be a mapping"
    ),
    "numbers is a mapping": one(
        P + "numbers: {provider: wx}\n", 1, "config.yaml:8: numbers must be a list"
    ),
    "numbers entry is a string": one(
        P + "numbers:\n  - '+1313555*'\n", 1, "config.yaml:9: a numbers entry must be a mapping"
    ),
    "file is a list": one(
        "- providers\n- numbers\n", 1, "config.yaml:1: the file must be a mapping"
    ),
    "file is a scalar": one("just text\n", 1, "config.yaml:1: the file must be a mapping"),
    "provider body is a string": one(
        "providers:\n  wx: wavix\n", 1, "config.yaml:2: providers.wx must be a mapping"
    ),
    "profile body is a list": one(
        P + "profiles:\n  p: [sms_enabled]\n", 1, "config.yaml:9: profiles.p must be a mapping"
    ),
    "key is a mapping": one(
        P + "profiles:\n  ? {a: 1}\n  : {sms_enabled: true}\n",
        1,
        "config.yaml:9: invalid YAML: a mapping key must be a plain value",
    ),
    "key is a flow list": one(
        P + "profiles: {[a, b]: {sms_enabled: true}}\n", 1, "config.yaml:8: invalid YAML"
    ),
    "settings key is a number": one(
        P + "numbers:\n" + entry(rest="settings: {sms_enabled: true, 5: x}"),
        1,
        "config.yaml:11: settings of +1313555*: the key 5 must be text",
    ),
    # ---- names YAML reads as numbers, booleans, null or dates
    "account name 123": one(
        "providers:\n  123:\n    type: wavix\n    sandbox: true\n",
        1,
        "config.yaml:2: provider account name 123 is read by YAML as a number; quote it: '123':",
    ),
    "account name yes": one(
        "providers:\n  yes: {type: wavix, sandbox: true}\n",
        1,
        "config.yaml:2: provider account name yes is read by YAML as a boolean; quote it",
    ),
    "account name 1.5": one(
        "providers:\n  1.5: {type: wavix, sandbox: true}\n",
        1,
        "config.yaml:2: provider account name 1.5 is read by YAML as a number",
    ),
    "profile name 123": one(
        P + "profiles:\n  123: {sms_enabled: true}\n",
        1,
        "config.yaml:9: profile name 123 is read by YAML as a number; quote it",
    ),
    "profile name no": one(
        P + "profiles:\n  no: {sms_enabled: true}\n",
        1,
        "config.yaml:9: profile name no is read by YAML as a boolean",
    ),
    "profile name null": one(
        P + "profiles:\n  ~: {sms_enabled: true}\n",
        1,
        "config.yaml:9: profile name ~ is read by YAML as null",
    ),
    "profile name a date": one(
        P + "profiles:\n  2026-01-01: {sms_enabled: true}\n",
        1,
        "config.yaml:9: profile name 2026-01-01 is read by YAML as a date",
    ),
    "quoted numeric names are fine": one(
        "providers:\n  '123': {type: wavix, sandbox: true}\n"
        "profiles:\n  'yes': {sms_enabled: true}\n"
        "numbers:\n" + entry("'123'", rest="profile: 'yes'"),
        0,
        "Configuration is valid",
    ),
    # ---- very deep nesting, recursion, expansion
    "deep flow nesting": one(
        P + "profiles:\n  p: {destinations: " + "[" * 5000 + "]" * 5000 + "}\n",
        1,
        "config.yaml:9: invalid YAML",
    ),
    "deep block nesting": one(
        P
        + "profiles:\n  p:\n"
        + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(200))
        + "  " * 203
        + "x\n",
        1,
        "invalid YAML: nesting deeper than 64 levels",
    ),
    "recursive alias": one(
        P + "profiles:\n  p: &a {voice: *a}\n", 1, "config.yaml:9: invalid YAML"
    ),
    "billion laughs": one(
        P
        + "x:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        + "".join(
            f"  {chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
            for i in range(8)
        )
        + "profiles:\n  p: {tags: *i}\n",
        1,
        "invalid YAML: aliases expand to more than",
    ),
    # ---- invalid UTF-8, binary content
    "invalid UTF-8 on line 9": one(
        (P + "profiles:\n  p: {customer_reference: 'caf\xe9'}\n").encode("latin-1"),
        1,
        "config.yaml:9: not UTF-8 text (byte 0xe9)",
    ),
    "binary file": one(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", 1, "config.yaml:1: not UTF-8"
    ),
    "NUL character": one(
        P + "profiles:\n  p: {customer_reference: 'a\x00b'}\n",
        1,
        "config.yaml:9: invalid YAML: character #x0000 is not allowed",
    ),
    "control character": one(
        P + "\x07profiles: {}\n", 1, "config.yaml:8: invalid YAML: character #x0007"
    ),
    "UTF-16 file": one(P.encode("utf-16"), 1, "config.yaml:1: not UTF-8 text (byte 0xff)"),
    "UTF-8 with a byte-order mark is fine": one(
        "\ufeff" + P + PROFILE + "numbers:\n" + entry(), 0, "Configuration is valid"
    ),
    # ---- booleans for integers, numeric strings for integers
    "boolean for transcription_threshold": one(
        P + "numbers:\n" + entry(rest="settings: {transcription_threshold: true}"),
        1,
        "config.yaml:11: settings of +1313555*: transcription_threshold: Input should be a valid "
        "integer",
    ),
    "numeric string for transcription_threshold": one(
        P + "numbers:\n" + entry(rest="settings: {transcription_threshold: '30'}"),
        1,
        "config.yaml:11: settings of +1313555*: transcription_threshold: Input should be a valid "
        "integer",
    ),
    "float for transcription_threshold": one(
        P + "numbers:\n" + entry(rest="settings: {transcription_threshold: 30.0}"),
        1,
        "config.yaml:11:",
        "transcription_threshold: Input should be a valid integer",
    ),
    "boolean for a destination priority": one(
        P + "profiles:\n  p:\n    destinations:\n"
        "      - {destination: 'sip:a@b.example', priority: true, transport: sip_uri}\n"
        "numbers:\n" + entry(),
        1,
        "config.yaml:11:",
        "destinations.0.priority: Input should be a valid integer",
    ),
    "numeric string for trunk_id": one(
        P + "profiles:\n  p:\n    destinations:\n"
        "      - {destination: '32882', priority: 1, transport: sip_trunk, trunk_id: '12'}\n"
        "numbers:\n" + entry(),
        1,
        "config.yaml:11:",
        "trunk_id: Input should be a valid integer",
    ),
    "integer for a boolean": one(
        P + "numbers:\n" + entry(rest="settings: {sms_enabled: 1}"),
        1,
        "config.yaml:11:",
        "sms_enabled: Input should be a valid boolean",
    ),
    "string for a boolean": one(
        P
        + TX_PROFILE
        + "numbers:\n"
        + entry("tx", "'+1312*'", "settings: {hd_voice_enabled: 'true'}"),
        1,
        "config.yaml:13:",
        "hd_voice_enabled: Input should be a valid boolean",
    ),
    "boolean for max_ids_per_call": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    max_ids_per_call: true\n",
        1,
        "config.yaml:5: providers.wx: max_ids_per_call: Input should be a valid integer",
    ),
    "numeric string for max_ids_per_call": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    max_ids_per_call: '500'\n",
        1,
        "config.yaml:5: providers.wx: max_ids_per_call: Input should be a valid integer",
    ),
    "numeric string for concurrency": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    concurrency: '8'\n",
        1,
        "config.yaml:5: providers.wx: concurrency: Input should be a valid integer",
    ),
    # ---- megabyte values: the message cuts them
    "megabyte URL": one(
        P + "numbers:\n" + entry(rest="settings: {sms_relay_url: '" + "a" * BIG + "'}"),
        1,
        "config.yaml:11:",
        "is not an absolute http(s) URL",
        "characters)",
    ),
    "megabyte number": one(
        P + PROFILE + "numbers:\n" + entry(number="'+1" + "9" * BIG + "'"),
        1,
        "config.yaml:12: number:",
    ),
    "megabyte prefix": one(
        P + PROFILE + "numbers:\n" + entry(number="'+1" + "9" * BIG + "*'"),
        1,
        "config.yaml:12: number '+1999",
        "characters)",
    ),
    "megabyte profile reference": one(
        P + PROFILE + "numbers:\n" + entry(rest="profile: " + "p" * BIG),
        1,
        "config.yaml:13: unknown profile 'ppp",
        "characters)",
    ),
    "megabyte provider reference": one(
        P + PROFILE + "numbers:\n" + entry("w" * BIG), 1, "config.yaml:11: unknown provider account"
    ),
    "megabyte setting name": one(
        P + "numbers:\n" + entry(rest="settings:\n      ? " + "s" * BIG + "\n      : true"),
        1,
        "config.yaml:12:",
        "unknown wavix setting 'sss",
    ),
    "megabyte CNAM": one(
        P
        + TX_PROFILE
        + "numbers:\n"
        + entry(
            "tx",
            "'+1312*'",
            "settings: {voice: {cnam_listing: {cnam_listing_details: '" + "A" * BIG + "'}}}",
        ),
        1,
        "config.yaml:13:",
        "cnam_listing_details must be 1-15 letters",
    ),
    "megabyte tag": one(
        P + "profiles:\n  p: !" + "t" * BIG + " x\n", 1, "config.yaml:9: invalid YAML: the tag"
    ),
    "megabyte top-level key": one(
        P + "? " + "x" * BIG + "\n: 1\n", 1, "config.yaml:8: unknown top-level key 'xxx"
    ),
    "megabyte carrier type": one(
        "providers:\n  wx: {type: " + "w" * BIG + "}\n", 1, "config.yaml:2:", "unknown carrier type"
    ),
    # ---- secrets: literal keys, PINs in conflicts and type errors, expanded values
    "literal api_key": one(
        f"providers:\n  wx:\n    type: wavix\n    api_key: {KEY}\n",
        1,
        "config.yaml:4: providers.wx.api_key: a literal key is not allowed in YAML",
    ),
    "literal numeric api_key": one(
        f"providers:\n  wx:\n    type: wavix\n    api_key: {PIN_DIGITS}\n",
        1,
        "config.yaml:4:",
        "api_key",
    ),
    "api_key as a list": one(
        f"providers:\n  wx:\n    type: wavix\n    api_key: [{KEY}]\n",
        1,
        "config.yaml:4:",
        "api_key",
    ),
    "api_key as a mapping": one(
        f"providers:\n  wx:\n    type: wavix\n    api_key: {{key: {KEY}}}\n",
        1,
        "config.yaml:4:",
        "api_key",
    ),
    "key expanded into a type error": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    concurrency: ${WX_KEY}\n",
        1,
        "config.yaml:5: providers.wx: concurrency:",
    ),
    "key expanded into the carrier type": one(
        "providers:\n  wx:\n    type: ${WX_KEY}\n    sandbox: true\n",
        1,
        "config.yaml:3: providers.wx: type: unknown carrier type",
    ),
    "external_pin conflict": one(
        P
        + "numbers:\n"
        + entry("tx", "'+1312*'", f"settings: {{external_pin: '{PIN}'}}")
        + entry("tx", "'+1312*'", "settings: {external_pin: '1111'}"),
        1,
        "config.yaml:12: +1312* (tx): field external_pin is set to '(sensitive)' here and to "
        "'(sensitive)' at",
    ),
    "external_pin conflict across files": Case(
        {
            "a.yaml": P,
            "b.yaml": "numbers:\n"
            + entry("tx", "'+1312*'", f"settings: {{external_pin: '{PIN}'}}"),
            "c.yaml": "numbers:\n"
            + entry("tx", "'+1312*'", "settings: {external_pin: 'other-pin'}"),
        },
        1,
        ("c.yaml:2: +1312* (tx): field external_pin is set to '(sensitive)' here",),
    ),
    "external_pin as a number": one(
        P + "numbers:\n" + entry("tx", "'+1312*'", f"settings: {{external_pin: {PIN_DIGITS}}}"),
        1,
        "config.yaml:11: settings of +1312*: external_pin: expected a string (the value is secret",
    ),
    "external_pin as a list": one(
        P + "numbers:\n" + entry("tx", "'+1312*'", f"settings: {{external_pin: [{PIN}]}}"),
        1,
        "config.yaml:11:",
        "external_pin",
    ),
    "external_pin in a Wavix profile": one(
        P + f"profiles:\n  p: {{external_pin: '{PIN}'}}\nnumbers:\n" + entry(),
        1,
        "config.yaml:9:",
        "unknown wavix setting 'external_pin'",
    ),
    "external_pin null": one(
        P + "numbers:\n" + entry("tx", "'+1312*'", "settings: {external_pin: null}"),
        1,
        "config.yaml:11:",
        "external_pin: null is not a value",
    ),
    # ---- keys from the environment that are empty or unset: refused before anything is sent
    "empty key from ${VAR:-}": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    api_key: ${UNSET_KEY:-}\n"
        + PROFILE
        + "numbers:\n"
        + entry(),
        1,
        "config.yaml:2: providers.wx: environment variable UNSET_KEY is not set or empty",
        command="plan",
    ),
    "empty key from an empty variable": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    api_key: ${EMPTY_KEY}\n"
        + PROFILE
        + "numbers:\n"
        + entry(),
        1,
        "config.yaml:2: providers.wx: environment variable EMPTY_KEY is not set or empty",
        command="plan",
    ),
    "unset key": one(
        "providers:\n  tx:\n    type: telnyx\n    api_key: ${UNSET_KEY}\n"
        + TX_PROFILE
        + "numbers:\n"
        + entry("tx", rest="profile: t"),
        1,
        "config.yaml:2: providers.tx: environment variable UNSET_KEY is not set or empty",
        command="plan",
    ),
    # ---- absurd timeouts and intervals (bounds live in reconciler/config.py)
    "verify_timeout_s 1e9": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    verify_timeout_s: 1.0e9\n",
        1,
        "config.yaml:5: providers.wx: verify_timeout_s:",
    ),
    "verify_timeout_s .inf": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    verify_timeout_s: .inf\n",
        1,
        "config.yaml:5: providers.wx: verify_timeout_s:",
    ),
    "poll_interval_s .nan": one(
        "providers:\n  tx:\n    type: telnyx\n    sandbox: true\n    poll_interval_s: .nan\n",
        1,
        "config.yaml:5: providers.tx: poll_interval_s:",
    ),
    "job_timeout_s 1e12": one(
        "providers:\n  tx:\n    type: telnyx\n    sandbox: true\n    job_timeout_s: 1.0e12\n",
        1,
        "config.yaml:5: providers.tx: job_timeout_s:",
    ),
    "poll_interval_s zero": one(
        "providers:\n  tx:\n    type: telnyx\n    sandbox: true\n    poll_interval_s: 0\n",
        1,
        "config.yaml:5: providers.tx: poll_interval_s:",
    ),
    "verify_timeout_s negative": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    verify_timeout_s: -1\n",
        1,
        "config.yaml:5: providers.wx: verify_timeout_s:",
    ),
    "verify_timeout_s boolean": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    verify_timeout_s: true\n",
        1,
        "config.yaml:5: providers.wx: verify_timeout_s:",
    ),
    "verify_timeout_s 1e9 as text": one(
        "providers:\n  wx:\n    type: wavix\n    sandbox: true\n    verify_timeout_s: 1e9\n",
        1,
        "config.yaml:5: providers.wx: verify_timeout_s:",
    ),
    # ---- YAML syntax and tags
    "tab indentation": one(
        P + "profiles:\n\tp: {}\n", 1, "config.yaml:9: invalid YAML", "spaces, not tabs"
    ),
    "unclosed bracket": one(
        P + "profiles:\n  p: {sms_enabled: true\nnumbers: []\n", 1, "config.yaml:", "invalid YAML"
    ),
    "duplicate key": one(
        P + "profiles:\n  p: {sms_enabled: true}\n  p: {sms_enabled: false}\n",
        1,
        "config.yaml:10: invalid YAML: duplicate key 'p' (first at line 9)",
    ),
    "two documents": one(
        P + "---\n" + PROFILE,
        1,
        "config.yaml:8: invalid YAML: expected a single document in the stream",
    ),
    "python tag": one(
        P + "profiles:\n  p: !!python/object/apply:os.system ['true']\n",
        1,
        "config.yaml:9: invalid YAML: the tag tag:yaml.org,2002:python/object/apply:os.system",
    ),
    "binary where text is expected": one(
        P + "profiles:\n  p: {customer_reference: !!binary 'AAEC'}\n",
        1,
        "config.yaml:9: profile 'p' (unused): customer_reference: Input should be a valid string",
    ),
    "impossible date": one(
        P + "profiles:\n  p: {customer_reference: 2026-13-45}\n",
        1,
        "config.yaml:9: invalid YAML: cannot read '2026-13-45'",
    ),
    "key without a colon on the last line": one(
        P + PROFILE + "numbers",
        1,
        "config.yaml:10: invalid YAML: could not find expected ':'",
    ),
    "undefined alias": one(P + "profiles:\n  p: *nope\n", 1, "config.yaml:9: invalid YAML"),
    "merge of a scalar": one(
        P + "profiles:\n  p: {<<: 5, sms_enabled: true}\n",
        1,
        "config.yaml:9: invalid YAML: << merges a mapping or a list of mappings",
    ),
    "set tag": one(P + "profiles:\n  p: !!set {a, b}\n", 1, "config.yaml:9: invalid YAML: the tag"),
    # ---- files and paths
    "empty file is fine": one("", 0, "Configuration is valid"),
    "comments only is fine": one("# nothing yet\n", 0, "Configuration is valid"),
    "directory without YAML": Case(
        {"notes.txt": "hello"}, 1, ("no *.yaml files in this directory",)
    ),
    "a directory named like YAML is skipped": Case(
        {"a.yaml": P + PROFILE + "numbers:\n" + entry(), "sub.yaml/b.txt": "x"},
        0,
        ("Configuration is valid",),
    ),
    "account declared in two files": Case(
        {"a.yaml": P, "b.yaml": "providers:\n  wx: {type: wavix, sandbox: true}\n"},
        1,
        ("b.yaml:2: provider account 'wx' is declared twice (also at",),
    ),
    # ---- numbers and entries
    "number with spaces": one(
        P + PROFILE + "numbers:\n" + entry(number="'+1 313 555 0100'"),
        1,
        "config.yaml:12: number:",
    ),
    "prefix with two stars": one(
        P + PROFILE + "numbers:\n" + entry(number="'+1313**'"),
        1,
        "config.yaml:12: number '+1313**': a prefix pattern",
    ),
    "entry without number": one(
        P + PROFILE + "numbers:\n  - {provider: wx, profile: p}\n",
        1,
        "config.yaml:11: numbers entry has no number",
    ),
    "real account without a key": one(
        "providers:\n  wx:\n    type: wavix\n" + PROFILE.replace("8", "4") + "numbers:\n" + entry(),
        1,
        "config.yaml:2: providers.wx: no api_key",
        command="plan",
    ),
    "entry without provider": one(
        P + PROFILE + "numbers:\n  - {number: '+1313555*', profile: p}\n",
        1,
        "config.yaml:11: numbers entry has no provider",
    ),
    "exact number declared twice": one(
        P
        + PROFILE
        + "numbers:\n"
        + entry(number="'+13135550100'")
        + entry(number="'+13135550100'"),
        1,
        "config.yaml:15: number +13135550100 is declared twice for wx (also at",
    ),
}


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def run_case(tmp_path: Path, case: Case) -> tuple[int, str, BaseException | None, Path]:
    config = tmp_path / "config"
    config.mkdir()
    _write(config, case.files)
    target = config / "config.yaml" if list(case.files) == ["config.yaml"] else config
    db = tmp_path / "sandbox.sqlite3"
    args = [case.command, str(target)]
    if case.command == "plan":
        args += ["--sandbox-db", str(db)]
    result = CliRunner().invoke(main, args, env={**ENV, **case.env})
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return result.exit_code, result.output, exception, db


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    code, output, exception, db = run_case(tmp_path, case)
    assert exception is None, f"unhandled {exception!r}"
    assert "Traceback" not in output
    assert code == case.code, output[:2000]
    for fragment in case.fragments:
        assert fragment in output, output[:2000]
    for secret in SECRETS:
        assert secret not in output, f"secret {secret[:6]}… echoed"
    assert len(output) < 4000, f"{len(output)} characters of output"
    assert not db.exists(), "the sandbox was opened"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["validate", str(fifo)])
    assert result.exit_code == 1
    assert f"{fifo}: not a regular file or a directory" in result.output


def test_corpus_size() -> None:
    assert len(CASES) >= 60


def _issues(target: Path, libyaml: bool) -> list[tuple[str, int | None, str]]:
    try:
        load(target, env=ENV, libyaml=libyaml)
    except ConfigError as exc:
        return [(i.file, i.line, i.message) for i in exc.issues]
    return []


SMALL = [
    name
    for name, case in sorted(CASES.items())
    if case.command == "validate" and sum(len(c) for c in case.files.values()) < 100_000
]


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml")
@pytest.mark.parametrize("name", SMALL)
def test_the_fallback_parser_reports_the_same(tmp_path: Path, name: str) -> None:
    """Without libyaml: the same problems on the same lines (PyYAML words syntax errors its own
    way, and its recursive composer cannot say where nesting got too deep)."""
    _write(tmp_path, CASES[name].files)
    target = tmp_path / "config.yaml" if list(CASES[name].files) == ["config.yaml"] else tmp_path
    fast, slow = _issues(target, True), _issues(target, False)
    assert len(fast) == len(slow)
    for (file, line, message), (file2, line2, message2) in zip(fast, slow, strict=True):
        assert file == file2
        assert line == line2 or (line2 is None and "nesting" in message2)
        assert message == message2 or message.startswith("invalid YAML")


def test_pure_python_fallback_on_deep_nesting(tmp_path: Path) -> None:
    """The pure-Python composer recurses: deep nesting is a message, not a RecursionError."""
    path = tmp_path / "deep.yaml"
    path.write_text(P + "profiles:\n  p: " + "[" * 1500 + "]" * 1500 + "\n")
    with pytest.raises(ConfigError) as info:
        load(path, env={}, libyaml=False)
    [issue] = info.value.issues
    assert "invalid YAML" in issue.message and "nesting" in issue.message


# --------------------------------------------------------------------------------------------
# Fuzz: nothing but ConfigError, whatever the input


def _load_or_config_error(path: Path, libyaml: bool | None = None) -> None:
    """Load or ConfigError; the key from the environment never shows, wherever ${WX_KEY} lands.
    (A PIN typed as a key or a name is not a secret there, so only the key is checked.)"""
    try:
        load(path, env=ENV, libyaml=libyaml)
    except ConfigError as exc:
        assert KEY not in str(exc)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["wx", "tx", "p", "+1313555*", "+13135550100", "${WX_KEY}", PIN, "wavix"]),
)
names = st.sampled_from(
    [
        "providers",
        "profiles",
        "numbers",
        "provider",
        "number",
        "profile",
        "settings",
        "type",
        "sandbox",
        "api_key",
        "wx",
        "tx",
        "p",
        "sms_enabled",
        "destinations",
        "tags",
        "voice",
        "external_pin",
        "transcription_threshold",
        "concurrency",
        "verify_timeout_s",
    ]
)
keys = st.one_of(names, st.integers(), st.booleans(), st.text(max_size=8))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=30,
)
configs = st.fixed_dictionaries(
    {},
    optional={"providers": trees, "profiles": trees, "numbers": st.lists(trees, max_size=4)},
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=st.one_of(configs, trees))
def test_fuzz_random_trees(tmp_path: Path, doc: object) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    _load_or_config_error(path)


EXAMPLE_FILES = {f.relative_to(EXAMPLE): f.read_bytes() for f in sorted(EXAMPLE.rglob("*.yaml"))}
NOISE = [
    b":",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!!str ",
    b"!x ",
    b"\t",
    b"\x00",
    b"\xff",
    b"'",
    b'"',
    b"\n  ",
    b"\n",
    b"#",
    b"---\n",
    b"? ",
    b"~",
    b"yes",
    b"1e9",
    b"${WX_KEY}",
    b"123",
]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32), edits=st.integers(min_value=1, max_value=6))
def test_fuzz_mutated_example(tmp_path: Path, seed: int, edits: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / f"example-{seed}-{edits}"
    for rel, content in EXAMPLE_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    victim = root / rng.choice(list(EXAMPLE_FILES))
    data = bytearray(victim.read_bytes())
    for _ in range(edits):
        at = rng.randrange(len(data) + 1)
        action = rng.randrange(4)
        if action == 0:  # insert noise
            data[at:at] = rng.choice(NOISE)
        elif action == 1:  # delete a run
            del data[at : at + rng.randrange(1, 12)]
        elif action == 2:  # duplicate a line
            lines = data.split(b"\n")
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
        else:  # swap two lines
            lines = data.split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
    victim.write_bytes(bytes(data))
    # Every other example goes through the pure-Python fallback too.
    _load_or_config_error(root, libyaml=None if seed % 2 or not yaml.__with_libyaml__ else False)
