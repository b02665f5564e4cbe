//! Enums the spec defines (scheduler, down policy, conntrack mode), made
//! one way: a variant per spec entry plus `Unknown` for a value of a newer
//! module, so an older tool lists what a newer module has (by number, as
//! iproute2 does) instead of failing the whole listing.

/// Defines `$name` with the given variants and their UAPI values, named by
/// the spec's name table `$names`; `$what` is what the error of a wrong
/// name calls it.
macro_rules! spec_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal, $names:path) {
            $( $(#[$variant_meta:meta])* $variant:ident = $value:path, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
            #[doc = concat!("A ", $what, " of a newer module, by its UAPI number.")]
            Unknown(u32),
        }

        impl $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];

            pub(crate) fn uapi(self) -> u32 {
                match self {
                    $( $name::$variant => $value, )+
                    $name::Unknown(n) => n,
                }
            }

            pub(crate) fn from_uapi(n: u32) -> $name {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.uapi() == n)
                    .unwrap_or($name::Unknown(n))
            }

            /// The spec name the CLI and the JSON output use; `None` for a
            /// value of a newer module.
            pub fn name(self) -> Option<&'static str> {
                $crate::decode::name_in($names, self.uapi())
                    .filter(|_| !matches!(self, $name::Unknown(_)))
            }
        }

        /// The name, or the number of a value without one here.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(name) => f.pad(name),
                    None => f.pad(&self.uapi().to_string()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::decode::name_or_number(self.name(), self.uapi(), s)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<$name, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name() == Some(s))
                    .ok_or_else(|| {
                        format!(
                            "unknown {} {s:?} ({})",
                            $what,
                            $crate::decode::spec_names($names)
                        )
                    })
            }
        }
    };
}

pub(crate) use spec_enum;
