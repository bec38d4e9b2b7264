"""What each word of LLMCL means, in the words of the reference (docs/llmcl.md), for hovers."""

from __future__ import annotations

from ..llmcl.language import ENFORCEMENTS, FIXES, PRIORITIES, SEVERITIES

_PRIORITIES = ", ".join(f"`{k}` ({v})" for k, v in PRIORITIES.items())

KEYWORD_DOCS: dict[str, str] = {
    "import": '`import "file"` makes the contracts of another file (relative to this one) available; '
    "imports may nest, but not in a cycle.",
    "contract": "`contract Name [version N] [priority P] [extends A, B] { ... }` declares a contract: "
    "its settings, clauses and remediation.",
    "version": "`version N`: the contract's version, a whole number >= 0.",
    "priority": f"`priority P`: {_PRIORITIES} or a whole number; higher runs first and wins conflicts "
    "(default 0).",
    "extends": "`extends A, B` puts the clauses of A and B (each once) before the contract's own; "
    "it inherits their retry and fallback unless it sets its own.",
    "description": '`description "..."`: what the contract guarantees, for people.',
    "enforcement": f"`enforcement E`: {', '.join(f'`{e}`' for e in ENFORCEMENTS)}. `strict` rejects "
    "(and re-asks on output), `warn` logs and counts, `monitor` only counts "
    "(default `strict`).",
    "severity": f"`severity S`: {', '.join(f'`{s}`' for s in SEVERITIES)}; how bad a violation is "
    "(default: the check's own, usually `error`).",
    "require": "`require C`: a precondition, checked on the request before it is sent. It may read "
    "`input` and `context`, never `output`.",
    "ensure": "`ensure C`: a postcondition, checked on the answer. It may read `output`, `input` (the "
    "request that produced the answer) and `context`.",
    "ensure_every_turn": "`ensure_every_turn C`: holds on every assistant turn of a conversation "
    "(recorded with `with client.conversation(session_id):`).",
    "always": "`always: C`: C holds on every turn of the conversation.",
    "never": "`never: C`: C holds on no turn of the conversation.",
    "eventually": "`eventually within N turns: C`: C holds on some turn among the first N (violated on "
    "turn N, not earlier).",
    "within": "`eventually within N turns: C`: the number of turns C has to hold by.",
    "turns": "`eventually within N turns: C`: the number of turns C has to hold by.",
    "turn": "`eventually within 1 turn: C`: the number of turns C has to hold by.",
    "next": "`next: C` holds when C holds on the second turn; `next after T: C` when C holds on the "
    "turn after each turn on which T holds.",
    "after": "`next after T: C`: C must hold on the turn after each turn on which T holds.",
    "until": "`until R: C`: C holds on every turn until the turn on which R holds; then nothing.",
    "on": '`on violation retry N [with "..."]` or `on violation fallback "..."`: what the client '
    "does when an answer violates the contract.",
    "violation": '`on violation retry N [with "..."]` or `on violation fallback "..."`: what the '
    "client does when an answer violates the contract.",
    "retry": '`on violation retry N [with "..."]`: re-ask the model up to N times; the message joins '
    'the fix of every output violation. `else retry with "..."` on a clause: what the re-ask '
    "tells the model about that clause.",
    "with": '`retry N with "..."`: the message the re-asks carry.',
    "fallback": '`on violation fallback "..."`: the text to answer with when the retries run out.',
    "as": "`as name`: the clause's name in reports (default `Contract.kind[n]`, e.g. "
    "`SupportReply.ensure[2]`).",
    "message": '`message "..."`: the violation message, instead of the generated one.',
    "else": '`else fix truncate`, `else fix redact` or `else retry with "..."`: what to do about a '
    "violation of this clause.",
    "fix": f"`else fix S` with S one of {', '.join(f'`{f}`' for f in FIXES)}: `truncate` shortens a "
    "request over a length limit (on output: the re-ask asks for a shorter answer); `redact` "
    "sends the request with personal data replaced by placeholders (on output: the re-ask asks "
    "to leave it out). The answer itself is never rewritten.",
    "and": "`C and D`: both hold; `not` binds tighter than `and`, `and` tighter than `or`.",
    "or": "`C or D`: at least one holds; `and` binds tighter than `or`.",
    "not": "`not C`: C does not hold; `not` binds tighter than `and` and `or`.",
    "conforms": '`json(output) conforms "file.json"` (a schema file relative to this one) or '
    "`conforms { ... }` (inline): the JSON value satisfies the JSON Schema. Its patterns "
    "run on RE2.",
    "true": "the boolean true",
    "false": "the boolean false",
    "null": "JSON null (inside inline JSON and `use` arguments)",
    "input": "`input`: the prompt, the text of all messages.",
    "output": "`output`: the answer's text.",
    "context": "`context.name`: a fact of the call (`ValidationContext.metadata`) or of the conversation. "
    "A clause that reads a fact the call does not have is not judged (it passes, with "
    '`details["skipped"]`).',
    "use": '`use "name"(arg = value, ...)`: a named Python contract from the registry '
    "(`register_contract`), with keyword arguments given as JSON values.",
}
