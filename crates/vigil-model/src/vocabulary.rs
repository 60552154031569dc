//! The closed vocabularies that CloudView users know: providers, criticality,
//! execution type and evaluation results. Each parses case-insensitively and
//! prints in the spelling the seed uses.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A name that is not one of a vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a valid {what}; expected one of: {}", allowed.join(", "))]
pub struct UnknownName {
    pub what: &'static str,
    pub given: String,
    pub allowed: Vec<&'static str>,
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident => $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;
            fn from_str(s: &str) -> Result<Self, UnknownName> {
                let t = s.trim();
                $(
                    if t.eq_ignore_ascii_case($text) $(|| t.eq_ignore_ascii_case($alias))* {
                        return Ok($name::$variant);
                    }
                )+
                Err(UnknownName { what: $what, given: s.to_string(), allowed: vec![$($text),+] })
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary!(
    /// The cloud a resource lives in (or, for IaC, will live in).
    Provider, "provider", {
        Aws => "aws",
        Azure => "azure",
        Gcp => "gcp",
    }
);

vocabulary!(
    /// How bad a failure of a control is, as CloudView grades it.
    Criticality, "criticality", {
        High => "HIGH",
        Medium => "MEDIUM",
        Low => "LOW",
    }
);

vocabulary!(
    /// When a control can be evaluated: against deployed resources (run time),
    /// against IaC templates (build time), or both.
    ExecutionType, "execution type", {
        Run => "run" | "runtime" | "run time",
        Build => "build" | "buildtime" | "build time",
        Both => "both" | "run & build time",
    }
);

vocabulary!(
    /// The outcome of evaluating one control against one resource. `PASSE`
    /// (pass with exception) is assigned by the exception workflow, never by the
    /// engine.
    EvalResult, "result", {
        Pass => "PASS",
        Fail => "FAIL",
        Passe => "PASSE",
        Skip => "SKIP",
    }
);

impl ExecutionType {
    /// Whether a control of this type applies to resources discovered at run time.
    pub fn at_run_time(self) -> bool {
        matches!(self, ExecutionType::Run | ExecutionType::Both)
    }

    /// Whether a control of this type applies to resources read from IaC.
    pub fn at_build_time(self) -> bool {
        matches!(self, ExecutionType::Build | ExecutionType::Both)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_prints_canonically() {
        assert_eq!("high".parse::<Criticality>().unwrap(), Criticality::High);
        assert_eq!(Criticality::High.to_string(), "HIGH");
        assert_eq!(
            "Run Time".parse::<ExecutionType>().unwrap(),
            ExecutionType::Run
        );
        assert_eq!("passe".parse::<EvalResult>().unwrap(), EvalResult::Passe);
    }

    #[test]
    fn unknown_names_list_the_allowed_values() {
        let err = "SEVERE".parse::<Criticality>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`SEVERE` is not a valid criticality; expected one of: HIGH, MEDIUM, LOW"
        );
    }
}
