"""``ResponseParser``, the sans-I/O half of the SDK's HTTP/1.1 client: response bytes in, events out.

What it promises, however the bytes are split between ``feed`` calls:

- the events are one ``Head`` (the final answer: ``1xx`` interim answers are skipped), the body
  bytes, then ``END``; the body is framed by ``Content-Length``, ``chunked`` (extensions and
  trailers ignored) or the connection closing (``eof()``), and answers that have no body (``204``,
  ``304``, the answer to ``HEAD``) end with their head;
- ``gzip``/``deflate`` bodies come out decoded; other encodings are refused;
- ``Head.keep_alive`` says whether the connection may carry another request, and ``extra`` that
  bytes came after the response (so it may not);
- malformed input, from a broken server or a proxy, raises ``RemoteProtocolError``, never another
  exception and never a silently wrong answer.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Iterable, List, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mistral_gcp._http11 import END, MAX_HEAD, Head, RemoteProtocolError, ResponseParser

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Parsed(NamedTuple):
    head: Head
    body: bytes
    ended: bool
    extra: bool


def split(data: bytes, cuts: Iterable[int]) -> List[bytes]:
    """``data`` cut at the given offsets (repeats make empty pieces)."""
    points = sorted(min(c, len(data)) for c in cuts)
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


def parse(*pieces: bytes, eof: bool = False, no_body: bool = False) -> Parsed:
    """Feed ``pieces`` (then ``eof()``); check the events' order and return what they say."""
    parser = ResponseParser(no_body=no_body)
    for piece in pieces:
        parser.feed(piece)
    if eof:
        parser.eof()
    events = list(parser.events)
    assert events and isinstance(events[0], Head) and events[0] is parser.head
    body = events[1:]
    ended = bool(body) and body[-1] is END
    if ended:
        body.pop()
    assert all(type(piece) is bytes and piece for piece in body), "body pieces are non-empty bytes"
    assert ended == parser.done
    return Parsed(events[0], b"".join(body), ended, parser.extra)


def response(head: str, body: bytes = b"") -> bytes:
    """A response: ``head`` lines joined with CRLF, the blank line, then ``body``."""
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n\r\n" + body


def chunked(body: bytes, sizes: Iterable[int], trailer: bytes = b"") -> bytes:
    """``body`` as chunks of the given sizes, the rest in one more chunk, then the last-chunk and ``trailer``."""
    out, pos = [], 0
    for size in sizes:
        if pos >= len(body):
            break
        piece = body[pos : pos + size]
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        pos += len(piece)
    if pos < len(body):
        out.append(b"%x\r\n%s\r\n" % (len(body) - pos, body[pos:]))
    return b"".join(out) + b"0\r\n" + trailer + b"\r\n"


# ---------------------------------------------------------------- framing


def test_content_length_body():
    got = parse(response("HTTP/1.1 200 OK\ncontent-type: application/json\ncontent-length: 11", b'{"a": true}'))
    assert (got.head.status, got.head.reason, got.head.version) == (200, "OK", "HTTP/1.1")
    assert got.head.headers["Content-Type"] == "application/json"
    assert got.body == b'{"a": true}' and got.ended and got.head.keep_alive and not got.extra


def test_content_length_zero_ends_with_the_head():
    got = parse(response("HTTP/1.1 200 OK\ncontent-length: 0"))
    assert got.body == b"" and got.ended and got.head.keep_alive


def test_a_repeated_identical_content_length_is_accepted():
    got = parse(response("HTTP/1.1 200 OK\ncontent-length: 3\ncontent-length: 3", b"abc"))
    assert got.body == b"abc" and got.ended


def test_chunked_body_with_extensions_and_trailers():
    body = b"5;name=value\r\nhello\r\nB; quoted=\"x;y\"\r\n, world!!\r\n\r\n0;last\r\nx-checksum: 1\r\nx-other: 2\r\n\r\n"
    got = parse(response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", body))
    assert got.body == b"hello, world!!\r\n" and got.ended and got.head.keep_alive and not got.extra
    assert "x-checksum" not in got.head.headers  # trailers are read past, not merged into the head


def test_chunked_wins_over_content_length():
    got = parse(response("HTTP/1.1 200 OK\ncontent-length: 100\ntransfer-encoding: chunked", chunked(b"abc", [1])))
    assert got.body == b"abc" and got.ended


def test_close_delimited_body_ends_at_eof_and_is_not_kept_alive():
    parser = ResponseParser()
    parser.feed(response("HTTP/1.1 200 OK\ncontent-type: text/plain", b"part one, "))
    parser.feed(b"part two")
    assert not parser.done  # only the connection closing ends this body
    got = parse(response("HTTP/1.1 200 OK", b"part one, "), b"part two", eof=True)
    assert got.body == b"part one, part two" and got.ended and not got.head.keep_alive


@pytest.mark.parametrize("interim", [
    "HTTP/1.1 100 Continue",
    "HTTP/1.1 103 Early Hints\nlink: </style.css>; rel=preload",
    "HTTP/1.1 100 Continue\n\nHTTP/1.1 102 Processing",
])
def test_interim_1xx_answers_are_skipped(interim):
    data = response(interim) + response("HTTP/1.1 201 Created\ncontent-length: 2", b"ok")
    for pieces in ([data], [data[i : i + 1] for i in range(len(data))]):
        got = parse(*pieces)
        assert got.head.status == 201 and got.body == b"ok" and got.ended
        assert "link" not in got.head.headers


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body_whatever_their_headers_say(status):
    got = parse(response(f"HTTP/1.1 {status} X\ncontent-length: 10\ncontent-type: application/json"))
    assert got.head.status == status and got.body == b"" and got.ended and got.head.keep_alive


def test_the_answer_to_head_has_no_body():
    got = parse(response("HTTP/1.1 200 OK\ncontent-length: 1000"), no_body=True)
    assert got.body == b"" and got.ended and got.head.keep_alive


@pytest.mark.parametrize("status_line,connection,keep_alive", [
    ("HTTP/1.1 200 OK", None, True),
    ("HTTP/1.1 200 OK", "close", False),
    ("HTTP/1.1 200 OK", "Close", False),
    ("HTTP/1.1 200 OK", "keep-alive", True),
    ("HTTP/1.0 200 OK", None, False),
    ("HTTP/1.0 200 OK", "keep-alive", True),
    ("HTTP/1.0 200 OK", "Keep-Alive", True),
    ("HTTP/1.0 200 OK", "close", False),
])
def test_keep_alive_decision(status_line, connection, keep_alive):
    head = status_line + ("" if connection is None else f"\nconnection: {connection}") + "\ncontent-length: 2"
    got = parse(response(head, b"hi"))
    assert got.body == b"hi" and got.head.keep_alive is keep_alive


def test_a_status_line_without_reason_and_bare_lf_heads():
    got = parse(b"HTTP/1.1 200\ncontent-length: 4\n\nbody")
    assert (got.head.status, got.head.reason, got.body) == (200, "", b"body")


def test_a_bare_lf_head_ends_at_its_own_blank_line_even_if_the_body_has_crlf_pairs():
    got = parse(b"HTTP/1.1 200 OK\ncontent-length: 6\n\nab\r\n\r\n")
    assert got.head.headers["content-length"] == "6" and got.body == b"ab\r\n\r\n" and got.ended


@pytest.mark.parametrize("blank", ["\r\n\r\n", "\n\n", "\r\n\n", "\n\r\n"])
@pytest.mark.parametrize("body", [b"ab\r\n\r\n", b"\n\nab", b"\r\nab", b"a\n\r\nb", b""])
def test_a_head_ends_at_its_first_blank_line_whatever_its_line_ends_and_the_body_holds(blank, body):
    head = f"HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\ncontent-length: {len(body)}{blank}".encode()
    whole = head + body
    for pieces in ([whole], [whole[i:i + 1] for i in range(len(whole))]):  # at once, and byte by byte
        got = parse(*pieces)
        assert dict(got.head.headers.items()) == {"x-a": "1", "x-b": "2", "content-length": str(len(body))}
        assert got.body == body and got.ended and not got.extra


def test_obsolete_line_folding_joins_the_value():
    got = parse(response("HTTP/1.1 200 OK\nx-long: first\n  second\n\tthird\ncontent-length: 0"))
    assert got.head.headers["x-long"] == "first second third"


def test_headers_are_case_insensitive_and_keep_repeats():
    got = parse(response("HTTP/1.1 200 OK\nSet-Cookie: a=1\nX-Id: 7\nset-cookie: b=2\ncontent-length: 0"))
    headers = got.head.headers
    assert headers["set-cookie"] == "a=1, b=2" and headers.get("X-ID") == "7" and "x-id" in headers
    assert headers.get_list("SET-COOKIE") == ["a=1", "b=2"]
    assert headers.multi_items()[:3] == [("set-cookie", "a=1"), ("x-id", "7"), ("set-cookie", "b=2")]
    assert headers.get("absent", "default") == "default" and len(headers) == 3


def test_header_values_keep_their_non_ascii_bytes():
    # UTF-8 "Åland" has the byte 0x85, which Python counts as a line break (NEL) in latin-1 text;
    # 0xa0 (no-break space) is whitespace to str.strip(). Neither is a line end or OWS in HTTP.
    value = "Åland: ok …\xa0".encode("utf-8")
    got = parse(b"HTTP/1.1 200 OK\r\nx-name: " + value + b"\r\ncontent-length: 0\r\n\r\n")
    assert got.head.headers["x-name"].encode("latin-1") == value
    assert list(got.head.headers) == ["x-name", "content-length"]


# ---------------------------------------------------------------- content-encoding

TEXT = b"The quick brown fox jumps over the lazy dog. " * 200


@pytest.mark.parametrize("name,encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("GZip", gzip.compress),
])
@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_gzip_and_deflate_bodies_are_decoded(name, encode, framing):
    packed = encode(TEXT)
    head = f"HTTP/1.1 200 OK\ncontent-encoding: {name}"
    if framing == "length":
        data = response(f"{head}\ncontent-length: {len(packed)}", packed)
    elif framing == "chunked":
        data = response(f"{head}\ntransfer-encoding: chunked", chunked(packed, [7, 100, 1]))
    else:
        data = response(head, packed)
    pieces = [data[i : i + 13] for i in range(0, len(data), 13)]
    got = parse(*pieces, eof=framing == "close")
    assert got.body == TEXT and got.ended


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_an_unsupported_content_encoding_is_refused(encoding):
    with pytest.raises(RemoteProtocolError, match="unsupported content-encoding"):
        parse(response(f"HTTP/1.1 200 OK\ncontent-encoding: {encoding}\ncontent-length: 3", b"abc"))


def test_a_corrupt_compressed_body_is_a_protocol_error():
    with pytest.raises(RemoteProtocolError, match="corrupt"):
        parse(response("HTTP/1.1 200 OK\ncontent-encoding: gzip\ncontent-length: 10", b"not gzip!!"))


# ---------------------------------------------------------------- what comes after


@pytest.mark.parametrize("framing", ["length", "chunked", "no body"])
def test_bytes_after_the_response_set_extra(framing):
    data = {
        "length": response("HTTP/1.1 200 OK\ncontent-length: 2", b"ok"),
        "chunked": response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", chunked(b"ok", [1])),
        "no body": response("HTTP/1.1 204 No Content"),
    }[framing]
    same_feed = parse(data + b"HTTP/1.1 200 OK\r\n")
    later_feed = parse(data, b"x")
    assert same_feed.ended and later_feed.ended and same_feed.extra and later_feed.extra
    assert parse(data).extra is False
    assert same_feed.body == later_feed.body == (b"" if framing == "no body" else b"ok")


# ---------------------------------------------------------------- malformed input

LONG_HEAD = response("HTTP/1.1 200 OK\nx-big: " + "a" * (MAX_HEAD // 2) + "\nx-big-2: " + "b" * (MAX_HEAD // 2))

MALFORMED = [
    # the status line
    ("not http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "status line"),
    ("HTTP/2 status line", response("HTTP/2 200 OK"), "status line"),
    ("four-digit status", response("HTTP/1.1 2000 OK"), "status line"),
    ("status not a number", response("HTTP/1.1 abc OK"), "status line"),
    ("non-ascii digits in the status", response("HTTP/1.1 \xb2\xb300 OK"), "status line"),
    ("empty head", b"\r\n\r\n", "status line"),
    # header lines
    ("header without colon", response("HTTP/1.1 200 OK\nno colon here"), "header line"),
    ("space before the colon", response("HTTP/1.1 200 OK\ncontent-length : 0"), "header line"),
    # content-length
    ("conflicting content-lengths", response("HTTP/1.1 200 OK\ncontent-length: 5\ncontent-length: 6", b"abcdef"), "content-length"),
    ("conflicting list", response("HTTP/1.1 200 OK\ncontent-length: 5, 6", b"abcdef"), "content-length"),
    ("negative content-length", response("HTTP/1.1 200 OK\ncontent-length: -1"), "content-length"),
    ("content-length not a number", response("HTTP/1.1 200 OK\ncontent-length: 1e3"), "content-length"),
    ("non-ascii digit content-length", response("HTTP/1.1 200 OK\ncontent-length: \xb2"), "content-length"),
    # chunk sizes
    ("chunk size not hex", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"zz\r\n"), "chunk size"),
    ("chunk size empty", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"\r\nabc\r\n"), "chunk size"),
    ("chunk size with 0x", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"0x3\r\nabc\r\n"), "chunk size"),
    ("chunk size with a sign", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"+3\r\nabc\r\n"), "chunk size"),
    ("negative chunk size", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"-3\r\nabc\r\n"), "chunk size"),
    ("chunk size with underscore", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"1_0\r\n"), "chunk size"),
    ("endless chunk size line", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"1" * (MAX_HEAD + 10)), "chunk size"),
    # chunk data
    ("chunk longer than its size", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"3\r\nhello\r\n0\r\n\r\n"), "longer than its size"),
    ("chunk longer, no newline yet", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"3\r\nhello!"), "longer than its size"),
    # sizes
    ("head larger than MAX_HEAD", LONG_HEAD[:-4], "head larger"),
    ("trailer line larger than MAX_HEAD", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"0\r\nx: " + b"t" * MAX_HEAD), "trailer"),
]


@pytest.mark.parametrize("data,match", [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_input_is_a_remote_protocol_error(data, match):
    with pytest.raises(RemoteProtocolError, match=match):
        parse(data)
    with pytest.raises(RemoteProtocolError, match=match):  # the same, a byte at a time (big inputs: 1 KB)
        step = 1 if len(data) < 4096 else 1024
        parse(*[data[i : i + step] for i in range(0, len(data), step)])


def test_a_head_just_under_the_limit_is_accepted():
    head = response("HTTP/1.1 200 OK\nx-big: " + "a" * (MAX_HEAD - 100) + "\ncontent-length: 0")
    assert parse(*[head[i : i + 1000] for i in range(0, len(head), 1000)]).ended


EOF_CASES = [
    ("before anything", b"", "without sending a response"),
    ("in the status line", b"HTTP/1.1 2", "before the end"),
    ("in the head", b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n", "before the end"),
    ("in a content-length body", response("HTTP/1.1 200 OK\ncontent-length: 5", b"abc"), "before the end"),
    ("in a chunk", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"5\r\nabc"), "before the end"),
    ("in a chunk size line", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"5\r\nabcde\r\n1"), "before the end"),
    ("before the last chunk", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"5\r\nabcde\r\n"), "before the end"),
    ("in the trailers", response("HTTP/1.1 200 OK\ntransfer-encoding: chunked", b"0\r\nx-t: 1\r\n"), "before the end"),
    ("after an interim answer", response("HTTP/1.1 100 Continue"), "without sending a response"),
]


@pytest.mark.parametrize("data,match", [case[1:] for case in EOF_CASES], ids=[case[0] for case in EOF_CASES])
def test_eof_before_the_end_is_a_remote_protocol_error(data, match):
    parser = ResponseParser()
    parser.feed(data)
    with pytest.raises(RemoteProtocolError, match=match):
        parser.eof()
    assert not parser.done


def test_eof_after_a_complete_response_is_fine():
    parser = ResponseParser()
    parser.feed(response("HTTP/1.1 200 OK\ncontent-length: 2", b"ok"))
    parser.eof()
    assert parser.done and list(parser.events)[-1] is END


# ---------------------------------------------------------------- properties, however the bytes are split

BODY = st.binary(max_size=3000) | st.sampled_from([TEXT, b"\r\n" * 50, b"0\r\n\r\n" * 20])


@FUZZ
@given(BODY, st.sampled_from(["length", "chunked"]), st.lists(st.integers(1, 700), min_size=1, max_size=8),
       st.booleans(), st.data())
def test_any_body_comes_out_byte_identical_however_framed_and_split(body, framing, sizes, compress, data):
    wire = gzip.compress(body) if compress else body
    head = "HTTP/1.1 200 OK" + ("\ncontent-encoding: gzip" if compress else "")
    if framing == "length":
        message = response(f"{head}\ncontent-length: {len(wire)}", wire)
    else:
        message = response(f"{head}\ntransfer-encoding: chunked", chunked(wire, sizes, b"x-trailer: 1\r\n"))
    cuts = data.draw(st.lists(st.integers(0, len(message)), max_size=20))
    got = parse(*split(message, cuts))
    assert got.body == body and got.ended and not got.extra and got.head.keep_alive


TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~", min_size=1, max_size=12)
#: a field value as received: visible ASCII, spaces, and any byte from 0x80 (obs-text), as latin-1 text
VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=30)
REASON = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=20)


@FUZZ
@given(st.integers(200, 599), REASON, st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
       st.lists(st.tuples(TOKEN, VALUE), max_size=8), st.sampled_from(["\r\n", "\n"]), st.data())
def test_the_head_parses_the_same_however_split(status, reason, version, fields, newline, data):
    fields = [(name, value) for name, value in fields if name.lower() not in ("content-length", "transfer-encoding", "content-encoding")]
    lines = [f"{version} {status} {reason}"] + [f"{name}:{value}" for name, value in fields] + ["content-length: 0"]
    message = (newline.join(lines) + newline + newline).encode("latin-1")
    cuts = data.draw(st.lists(st.integers(0, len(message)), max_size=12))
    whole, pieces = parse(message), parse(*split(message, cuts))
    for got in (whole, pieces):
        assert (got.head.status, got.head.reason, got.head.version) == (status, reason, version)
        assert got.head.headers.raw == [(n, v.strip(" \t")) for n, v in fields] + [("content-length", "0")]
        assert got.ended and not got.extra


@FUZZ
@given(st.binary(max_size=300), st.data())
def test_garbage_after_a_status_line_is_a_response_or_a_protocol_error(garbage, data):
    message = b"HTTP/1.1 200 OK\r\n" + garbage
    cuts = data.draw(st.lists(st.integers(0, len(message)), max_size=8))
    parser = ResponseParser()
    try:
        for piece in split(message, cuts):
            parser.feed(piece)
        parser.eof()
    except RemoteProtocolError:
        return
    assert parser.done
