#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, each message
NUL-terminated JSON), so the page is checked as a browser renders it, with
real time, not a virtual-time guess.

  browser_check.py --chromium BIN --url URL --out DIR [--images N]
                   [--text NAME]... [--refusal STATUS]... [--then CMD --new NAME]

Waits for the page to be ready with N thumbnails decoded (naturalWidth > 0),
checks that each --text appears as the text of an image name (and that no
element came from it: one <img> per card, no dialog opened), that each
--refusal is listed, then runs CMD (a shell command) and waits for an image
named NAME to appear, without reloading, with its thumbnail decoded. Saves
DIR/inbox.png (screenshot) and DIR/dom.html. Exit 0 when all checks pass;
1 with a reason otherwise. Every wait has a timeout.
"""
import argparse
import base64
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

WAIT = 60.0  # generous: CI runs this beside sanitizer builds on two cores


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def setup():
            # The child sees our pipe ends as fds 3 and 4, and dies with us
            # (PR_SET_PDEATHSIG, SIGKILL) so that no browser outlives a test.
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)

        args = [chromium, '--headless', '--no-sandbox', '--disable-gpu',
                '--remote-debugging-pipe', '--no-first-run', '--no-default-browser-check',
                '--disable-extensions', '--disable-background-networking',
                '--disable-dev-shm-usage',
                '--disable-component-update', '--disable-sync', '--metrics-recording-only',
                '--password-store=basic', '--use-mock-keychain', '--hide-scrollbars',
                '--window-size=1280,900', '--user-data-dir=' + profile, 'about:blank']
        self.proc = subprocess.Popen(args, preexec_fn=setup, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     close_fds=True)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.w = to_chrome_w
        self.r = from_chrome_r
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        try:
            self.send('Browser.close', browser=True, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _read_message(self, deadline, what='a message'):
        import select
        while b'\0' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('no answer from Chromium to %s (exit %s)' %
                                   (what, self.proc.poll()))
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError('Chromium closed the pipe (exit %s)' % self.proc.poll())
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b'\0')
        return json.loads(msg)

    def send(self, method, browser=False, timeout=WAIT, **params):
        self.next_id += 1
        my_id = self.next_id
        msg = {'id': my_id, 'method': method, 'params': params}
        if self.session is not None and not browser:
            msg['sessionId'] = self.session
        os.write(self.w, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_message(deadline, method)
            if m.get('id') == my_id:
                if 'error' in m:
                    raise RuntimeError('%s: %s' % (method, m['error']))
                return m.get('result', {})
            if 'method' in m:
                self.events.append(m)
                if m['method'] == 'Page.javascriptDialogOpening':
                    # Answer it so the page goes on; the check fails later.
                    self.next_id += 1
                    os.write(self.w, json.dumps({
                        'id': self.next_id, 'sessionId': m.get('sessionId'),
                        'method': 'Page.handleJavaScriptDialog',
                        'params': {'accept': False}}).encode() + b'\0')

    def evaluate(self, expr):
        r = self.send('Runtime.evaluate', expression=expr, returnByValue=True)
        if 'exceptionDetails' in r:
            raise RuntimeError('page script failed: %s' % r['exceptionDetails'])
        return r['result'].get('value')


STATE_JS = r'''JSON.stringify((function () {
  if (!document.body || !document.getElementById('images')) {
    return { ready: false, status: null, imgs: 0, cards: [], refusals: [] };
  }
  const cards = Array.from(document.querySelectorAll('#images .card'));
  return {
    ready: document.body.dataset.ready === '1',
    status: (document.getElementById('status') || {}).textContent,
    imgs: document.querySelectorAll('img').length,
    cards: cards.map(function (c) {
      const t = c.querySelector('img.thumb');
      const n = c.querySelector('.name');
      return { name: c.dataset.name, text: n ? n.textContent : null,
               loaded: t ? t.dataset.loaded || '' : 'none',
               width: t ? t.naturalWidth : 0, children: c.querySelectorAll('*').length };
    }),
    refusals: Array.from(document.querySelectorAll('#refusals .refusal')).map(function (r) {
      return r.dataset.status;
    })
  };
})())'''


def state(b):
    return json.loads(b.evaluate(STATE_JS))


def wait_for(b, what, pred):
    deadline = time.monotonic() + WAIT
    last = None
    while time.monotonic() < deadline:
        last = state(b)
        if pred(last):
            return last
        time.sleep(0.1)
    raise AssertionError('timed out after %.0f s waiting for %s; page state: %s' %
                         (WAIT, what, json.dumps(last)))


def thumbs_ok(s, n):
    return (s['ready'] and len(s['cards']) >= n and
            all(c['loaded'] == '1' and c['width'] > 0 for c in s['cards']))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--chromium', required=True)
    ap.add_argument('--url', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--images', type=int, default=0)
    ap.add_argument('--text', action='append', default=[])
    ap.add_argument('--refusal', action='append', default=[])
    ap.add_argument('--then')
    ap.add_argument('--new')
    a = ap.parse_args()

    profile = tempfile.mkdtemp(prefix='sitx-chromium-')
    b = Browser(a.chromium, profile)
    try:
        target = b.send('Target.createTarget', browser=True, url='about:blank')
        att = b.send('Target.attachToTarget', browser=True, targetId=target['targetId'],
                     flatten=True)
        b.session = att['sessionId']
        b.send('Page.enable')
        b.send('Runtime.enable')
        b.send('Page.navigate', url=a.url)
        s = wait_for(b, '%d thumbnails decoded' % a.images, lambda s: thumbs_ok(s, a.images))
        print('page ready: %d image(s), all thumbnails decoded' % len(s['cards']))
        for text in a.text:
            hits = [c for c in s['cards'] if c['name'] == text and c['text'] == text]
            if not hits:
                raise AssertionError('no image shown with the name %r: %s' % (text, s['cards']))
            print('name shown as text: %r' % text)
        if s['imgs'] != len(s['cards']):
            raise AssertionError('%d <img> elements for %d images: markup got in' %
                                 (s['imgs'], len(s['cards'])))
        for st in a.refusal:
            s = wait_for(b, 'refusal %s listed' % st, lambda s: st in s['refusals'])
            print('refusal listed: %s' % st)
        if a.then:
            before = len(s['cards'])
            rc = subprocess.run(a.then, shell=True, timeout=90).returncode
            if rc != 0:
                raise AssertionError('the command run after loading failed (%d): %s' %
                                     (rc, a.then))
            s = wait_for(b, 'the new image %r without a reload' % a.new,
                         lambda s: any(c['name'] == a.new for c in s['cards']) and
                         thumbs_ok(s, before + 1))
            if s['cards'][0]['name'] != a.new:
                raise AssertionError('the new image is not listed first: %s' % s['cards'])
            print('new image shown without a reload: %r' % a.new)
        dialogs = [e for e in b.events if e['method'] == 'Page.javascriptDialogOpening']
        if dialogs:
            raise AssertionError('the page opened a dialog (script ran from a name?): %s' %
                                 dialogs)
        shot = b.send('Page.captureScreenshot', format='png')
        with open(os.path.join(a.out, 'inbox.png'), 'wb') as f:
            f.write(base64.b64decode(shot['data']))
        with open(os.path.join(a.out, 'dom.html'), 'w', encoding='utf-8') as f:
            f.write(b.evaluate('document.documentElement.outerHTML'))
        print('saved %s and %s' % (os.path.join(a.out, 'inbox.png'),
                                   os.path.join(a.out, 'dom.html')))
    except (AssertionError, RuntimeError, TimeoutError, subprocess.TimeoutExpired) as e:
        print('browser check failed: %s' % e, file=sys.stderr)
        return 1
    finally:
        b.close()
        subprocess.run(['rm', '-rf', profile])
    return 0


if __name__ == '__main__':
    sys.exit(main())
