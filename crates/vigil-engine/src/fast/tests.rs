//! Unit tests of the fast evaluator, each against the interpreter.
