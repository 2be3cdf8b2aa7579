//! A helper macro for enumerations with one fixed text name per variant.

/// Declares an enumeration whose variants each have one text name, used by serde, `Display` and
/// `FromStr` alike, plus an `ALL` list of every variant.
macro_rules! named_enum {
    (
        $(#[$doc:meta])*
        $vis:vis enum $name:ident { $( $(#[$vdoc:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vdoc])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The variant's text name (as used in JSON).
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::ModelError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::error::ModelError::UnknownName {
                        kind: stringify!($name),
                        value: text.chars().take(80).collect(),
                    }),
                }
            }
        }
    };
}

pub(crate) use named_enum;
