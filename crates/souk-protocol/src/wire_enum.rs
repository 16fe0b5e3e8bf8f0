//! `wire_enum!`: string-valued protocol enums that keep values they do not know.
//!
//! KooGallery adds codes and enum values over time (the result-code table grew from 000005 to
//! 000903), so every enum that crosses the wire has an `Other(String)` variant: parsing never
//! fails, the original text survives a round trip, and the caller decides what "unknown" means.

/// Defines a string enum with known variants (wire text + one-line description) and
/// `Other(String)`. Generates `as_str`, `parse` (infallible), `description`, `KNOWN`,
/// `FromStr`, `Display`, `From<&str>`, string serde, and [`crate::activity::ParamValue`].
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal => $desc:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( #[doc = concat!("`", $wire, "`: ", $desc)] $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, preserved verbatim.
            Other(String),
        }

        impl $name {
            /// Every known value, in documentation order.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The wire text.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Parses wire text; unknown text becomes `Other` (exact match, no trimming, so the
            /// value round-trips byte for byte).
            pub fn parse(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }

            /// The documented meaning, or `None` for `Other`.
            pub fn known_description(&self) -> Option<&'static str> {
                match self {
                    $( $name::$variant => Some($desc), )+
                    $name::Other(_) => None,
                }
            }

            /// Whether this is one of the documented values.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse(s))
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self::parse(s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Accept numbers too (`"testFlag": 1` appears in Kit examples): their decimal
                // text is the value.
                let text = $crate::lenient::string_from_scalar(d)?;
                Ok(Self::parse(&text))
            }
        }

        impl $crate::activity::ParamValue for $name {
            fn from_param(raw: &str) -> Result<Self, String> {
                Ok(Self::parse(raw))
            }
            fn to_param(&self) -> String {
                self.as_str().to_owned()
            }
        }
    };
}

pub(crate) use wire_enum;
