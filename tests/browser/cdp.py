#!/usr/bin/python3
"""Drive the page of a running headless Chromium over the DevTools protocol, one step per run.

Usage: cdp.py PORT open URL SELECTOR   navigate, wait until loaded and SELECTOR exists
       cdp.py PORT shot PATH           full-page PNG screenshot into PATH
       cdp.py PORT click MEMBER LABEL  real mouse click on the LABEL button of MEMBER's row,
                                       then wait for the page that the form leads to
       cdp.py PORT eval EXPR           print the value of a JavaScript expression

The browser keeps its state between runs, so a test reads as a sequence of steps. Every wait
polls with a deadline; a failure exits non-zero with the reason on stderr.
"""

import base64
import json
import sys
import time
import urllib.request

try:
    import websocket  # Debian: python3-websocket
except ImportError:
    sys.exit("cdp.py: python3-websocket is missing (install it: `make deps`)")

TIMEOUT = 15.0


class Page:
    def __init__(self, port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise SystemExit(f"cdp.py: no page target in {targets}")
        # No Origin header: Chromium refuses DevTools sockets from unlisted origins.
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=TIMEOUT, suppress_origin=True
        )
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") != self.next_id:
                continue  # an event: nothing here subscribes, so skip it
            if "error" in msg:
                raise SystemExit(f"cdp.py: {method} failed: {msg['error']}")
            return msg["result"]

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise SystemExit(f"cdp.py: {expr!r} threw: {r['exceptionDetails']}")
        return r["result"].get("value")

    def settled(self, expr):
        """`expr`'s value, or None while a navigation replaces the document under it (the
        evaluation then fails with "navigated" or "context" errors: poll again)."""
        try:
            return self.eval(expr)
        except SystemExit as e:
            if "navigated or closed" in str(e) or "context" in str(e):
                return None
            raise

    def wait(self, what, expr):
        deadline = time.monotonic() + TIMEOUT
        pause = 0.005
        while not self.settled(expr):
            if time.monotonic() > deadline:
                raise SystemExit(f"cdp.py: timed out after {TIMEOUT} s waiting for {what}")
            time.sleep(pause)  # polling interval; the condition is re-checked each round
            pause = min(pause * 2, 0.1)


def open_page(p, url, selector):
    r = p.call("Page.navigate", url=url)
    if r.get("errorText"):
        raise SystemExit(f"cdp.py: navigating to {url}: {r['errorText']}")
    p.wait(
        f"{url} to load with {selector}",
        f"document.readyState === 'complete' && location.href === {json.dumps(url)}"
        f" && document.querySelector({json.dumps(selector)}) !== null",
    )


def shot(p, path):
    # The whole document, also what lies right of or below the window, and not the empty
    # window below a short page.
    w, h = p.eval(
        "[document.documentElement.scrollWidth,"
        " Math.ceil(document.documentElement.getBoundingClientRect().height)]"
    )
    r = p.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1},
    )
    data = base64.b64decode(r["data"])
    with open(path, "wb") as f:
        f.write(data)
    print(f"{path} {len(data)} bytes, {w}x{h} CSS px")


# Finds the button, brings it into view and says where its centre is, after checking that a
# click there reaches the button itself (not something drawn over it). Marks the document so
# that the next one can be told apart.
FIND_BUTTON = """(() => {
  const row = [...document.querySelectorAll('tr')]
    .find(r => r.dataset.member === %(member)s);
  if (!row) return 'no row for member ' + %(member)s;
  const b = [...row.querySelectorAll('button')].find(b => b.textContent.trim() === %(label)s);
  if (!b) return 'no ' + %(label)s + ' button in the row of ' + %(member)s;
  b.scrollIntoView({block: 'center', inline: 'center'});
  const r = b.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (r.width < 4 || r.height < 4) return 'the button is not visible: ' + JSON.stringify(r);
  if (document.elementFromPoint(x, y) !== b) return 'something covers the button at ' + x + ',' + y;
  window.__cdpOldDocument = true;
  return {x, y};
})()"""


def click(p, member, label):
    at = p.eval(FIND_BUTTON % {"member": json.dumps(member), "label": json.dumps(label)})
    if not isinstance(at, dict):
        raise SystemExit(f"cdp.py: cannot click: {at}")
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        p.call(
            "Input.dispatchMouseEvent",
            type=kind, x=at["x"], y=at["y"], button="left", clickCount=1,
        )
    p.wait(
        f"the page after clicking {label} of {member}",
        "window.__cdpOldDocument === undefined && document.readyState === 'complete'",
    )
    print(p.eval("location.href"))


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    p = Page(int(argv[1]))
    cmd, args = argv[2], argv[3:]
    if cmd == "open" and len(args) == 2:
        open_page(p, *args)
    elif cmd == "shot" and len(args) == 1:
        shot(p, *args)
    elif cmd == "click" and len(args) == 2:
        click(p, *args)
    elif cmd == "eval" and len(args) == 1:
        v = p.eval(args[0])
        print(v if isinstance(v, str) else json.dumps(v))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
