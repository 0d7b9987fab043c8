"""The fault rules file that faultproxy.py and azurearm.py share: a JSON list of
objects {"method", "path_regex", "nth", "action", "comment", ...}, re-read on every
request, each rule counting the requests that match its method and path_regex.

    check_rules(data, actions, check_action)

validates the list: actions maps each action to (keys it needs, keys it may have);
the keys every rule may have, the method, path_regex and nth are checked here, then
check_action(r, where) checks what the action's own keys hold (check_status serves
a "status" action). It returns the rules as dicts with the method upper-cased, nth
"every" or a list and the compiled path_regex as "re"; ValueError with the reason.

    Rules(path, check, empty_ok=False).fire(method, target)

returns the rules firing on a request, in file order; check(data) validates the
file's JSON. A file that stays unreadable or invalid for a second raises
RulesError (a ValueError); empty_ok reads an empty file as no rules.
"""
import json
import os
import re
import threading
import time

COMMON_KEYS = {"method", "path_regex", "nth", "action", "comment"}


class RulesError(ValueError):
    pass


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_status(r, where, http_date=False):
    """A status action's code, retry_after (seconds, or also an HTTP date) and headers."""
    if not is_int(r["code"]) or not 100 <= r["code"] <= 599:
        raise ValueError("%s: code must be a number 100..599" % where)
    ra = r.get("retry_after")
    if http_date:
        if ra is not None and not (is_int(ra) and ra >= 0) and not isinstance(ra, str):
            raise ValueError("%s: retry_after must be seconds or an HTTP date" % where)
    elif ra is not None and not (is_int(ra) and ra >= 0):
        raise ValueError("%s: retry_after must be a number of seconds" % where)
    hdrs = r.get("headers", {})
    if not isinstance(hdrs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "\n" not in k + v
            and "\r" not in k + v for k, v in hdrs.items()):
        raise ValueError("%s: headers must be an object of strings" % where)


def check_rules(data, actions, check_action):
    if not isinstance(data, list):
        raise ValueError("the rules file must hold a JSON list")
    rules = []
    for i, r in enumerate(data):
        where = "rule %d" % (i + 1)
        if not isinstance(r, dict):
            raise ValueError("%s: not an object" % where)
        action = r.get("action")
        if action not in actions:
            raise ValueError("%s: action must be one of %s, not %r"
                             % (where, ", ".join(sorted(actions)), action))
        need, may = actions[action]
        unknown = set(r) - COMMON_KEYS - need - may
        if unknown:
            raise ValueError("%s: unknown key(s) %s for action %s"
                             % (where, ", ".join(sorted(unknown)), action))
        missing = need - set(r)
        if missing:
            raise ValueError("%s: action %s needs %s" % (where, action, ", ".join(sorted(missing))))
        method = r.get("method", "*")
        if not isinstance(method, str) or not re.fullmatch(r"\*|[A-Za-z]+", method):
            raise ValueError("%s: method must be an HTTP method or \"*\"" % where)
        regex = r.get("path_regex", "")
        if not isinstance(regex, str):
            raise ValueError("%s: path_regex must be a string" % where)
        try:
            compiled = re.compile(regex)
        except re.error as e:
            raise ValueError("%s: bad path_regex: %s" % (where, e)) from None
        nth = r.get("nth", 1)
        if nth == "every":
            pass
        elif is_int(nth) and nth >= 1:
            nth = [nth]
        elif isinstance(nth, list) and nth and all(is_int(n) and n >= 1 for n in nth):
            pass
        else:
            raise ValueError("%s: nth must be a number >= 1, a list of them or \"every\"" % where)
        check_action(r, where)
        rule = dict(r)
        rule["method"] = method.upper()
        rule["nth"] = nth
        rule["re"] = compiled
        rules.append(rule)
    return rules


class Rules:
    """The rules file, re-read on every request, and each rule's count of matches."""

    def __init__(self, path, check, empty_ok=False):
        self.path = path
        self.check = check
        self.empty = "[]" if empty_ok else ""
        self.lock = threading.Lock()
        self.ident = None
        self.rules = []
        self.counts = []

    def _load(self):
        error = None
        for _ in range(50):
            try:
                with open(self.path, "rb") as f:
                    st = os.fstat(f.fileno())
                    data = f.read()
                ident = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, data)
                if ident == self.ident:
                    return
                rules = self.check(json.loads(data.decode("utf-8") or self.empty))
            except (OSError, ValueError) as e:
                # ValueError covers JSON and UTF-8 errors: a writer may be half-way.
                error = e
                time.sleep(0.02)
                continue
            self.ident, self.rules, self.counts = ident, rules, [0] * len(rules)
            return
        self.ident = None
        raise RulesError("rules file %s: %s" % (self.path, error))

    def fire(self, method, target):
        """The rules firing on this request, in file order (none without a file)."""
        if not self.path:
            return []
        with self.lock:
            self._load()
            fired = []
            for i, rule in enumerate(self.rules):
                if rule["method"] not in ("*", method.upper()) or not rule["re"].search(target):
                    continue
                self.counts[i] += 1
                if rule["nth"] == "every" or self.counts[i] in rule["nth"]:
                    fired.append(rule)
            return fired
