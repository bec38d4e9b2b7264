"""The LLMCL grammar (lark, LALR(1)) and the words people read for its terminals.

Statements end at the end of a line. Inside ``( )``, ``[ ]`` and inline JSON, after a
binary operator, a comma or a colon, and before ``else``, a line break is just space,
so long conditions can be wrapped (see ``_parser.Layout``).
"""

from __future__ import annotations

GRAMMAR = r"""
start: (_top _NL)* _top?
_top: import_stmt | contract

import_stmt: "import" STRING

contract: "contract" NAME _header* "{" (_item _NL)* _item? "}"
_header: version | priority | extends | enforcement | severity
version: "version" NUMBER
priority: "priority" (NAME | NUMBER)
extends: "extends" NAME ("," NAME)*

_item: description | enforcement | severity | priority
     | require | ensure | invariant | always | never | eventually | next | until
     | retry | fallback
description: "description" STRING
enforcement: "enforcement" NAME
severity: "severity" NAME

require: "require" expr _option*
ensure: "ensure" expr _option*
invariant: "ensure_every_turn" expr _option*
always: "always" ":" expr _option*
never: "never" ":" expr _option*
eventually: "eventually" "within" NUMBER ("turns" | "turn") ":" expr _option*
next: "next" after? ":" expr _option*
after: "after" expr
until: "until" expr ":" expr _option*
retry: "on" "violation" "retry" NUMBER ("with" STRING)?
fallback: "on" "violation" "fallback" STRING

_option: opt_name | opt_severity | opt_priority | opt_enforcement | opt_message | opt_fix | opt_ask
opt_name: "as" NAME
opt_severity: "severity" NAME
opt_priority: "priority" (NAME | NUMBER)
opt_enforcement: "enforcement" NAME
opt_message: "message" STRING
opt_fix: "else" "fix" NAME
opt_ask: "else" "retry" "with" STRING

?expr: or_expr
?or_expr: and_expr ("or" and_expr)*
?and_expr: not_expr ("and" not_expr)*
?not_expr: "not" not_expr -> not_
         | comparison
?comparison: atom COMP_OP atom -> compare
           | atom "conforms" STRING -> conforms_file
           | atom "conforms" json_object -> conforms_inline
           | atom
?atom: call
     | use
     | NUMBER -> number
     | STRING -> string
     | REGEX -> regex
     | "true" -> true
     | "false" -> false
     | "input" -> input_ref
     | "output" -> output_ref
     | "context" ("." NAME)+ -> context_ref
     | "(" expr ")"
     | "[" [expr ("," expr)* ","?] "]" -> list_expr
call: NAME "(" [expr ("," expr)* ","?] ")"
use: "use" STRING use_args?
use_args: "(" [use_arg ("," use_arg)* ","?] ")"
use_arg: NAME "=" json_value

?json_value: json_object | json_array
           | STRING -> string
           | NUMBER -> number
           | "true" -> true
           | "false" -> false
           | "null" -> null
json_object: "{" [json_pair ("," json_pair)* ","?] "}"
json_pair: STRING ":" json_value
json_array: "[" [json_value ("," json_value)* ","?] "]"

COMP_OP: "<=" | ">=" | "==" | "!=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /-?[0-9]+(\.[0-9]+)?/
STRING: /"([^"\\\n]|\\[^\n])*"/
REGEX: /\/([^\/\\\n]|\\[^\n])+\/[A-Za-z]*/
COMMENT: /#[^\n]*/ | /\/\/[^\n]*/
_NL: /\r?\n/
WS: /[ \t\f\r]+/
%ignore WS
%ignore COMMENT
"""

# Terminals whose text is a pattern, in words; literal terminals read as themselves.
PATTERN_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string in double quotes ("...")',
    "REGEX": "a regular expression (/.../)",
    "COMP_OP": "a comparison (<, <=, ==, !=, >=, >)",
    "_NL": "the end of the line",
    "$END": "the end of the file",
}

# Terminals that can start an expression; an error expecting them says "an expression".
EXPRESSION_START = frozenset(
    {
        "NOT",
        "LPAR",
        "NAME",
        "NUMBER",
        "STRING",
        "REGEX",
        "TRUE",
        "FALSE",
        "INPUT",
        "OUTPUT",
        "CONTEXT",
        "USE",
        "LSQB",
    }
)

# Terminals that start a statement in a contract's body.
CLAUSE_START = frozenset(
    {
        "REQUIRE",
        "ENSURE",
        "ENSURE_EVERY_TURN",
        "ALWAYS",
        "NEVER",
        "EVENTUALLY",
        "NEXT",
        "UNTIL",
        "ON",
        "DESCRIPTION",
        "ENFORCEMENT",
        "SEVERITY",
        "PRIORITY",
    }
)

# Terminals that may follow a clause's condition.
OPTION_START = frozenset({"AS", "SEVERITY", "PRIORITY", "ENFORCEMENT", "MESSAGE", "ELSE"})

# The words of the language, for "did you mean ...?" hints on misspelt keywords.
KEYWORDS = (
    "import",
    "contract",
    "version",
    "priority",
    "extends",
    "description",
    "enforcement",
    "severity",
    "require",
    "ensure",
    "ensure_every_turn",
    "always",
    "never",
    "eventually",
    "within",
    "turns",
    "turn",
    "next",
    "after",
    "until",
    "on",
    "violation",
    "retry",
    "with",
    "fallback",
    "as",
    "message",
    "else",
    "fix",
    "and",
    "or",
    "not",
    "conforms",
    "true",
    "false",
    "input",
    "output",
    "context",
    "use",
    "null",
)

BODY_KEYWORDS = (
    "require",
    "ensure",
    "ensure_every_turn",
    "always",
    "never",
    "eventually",
    "next",
    "until",
    "on",
    "description",
    "enforcement",
    "severity",
    "priority",
)
