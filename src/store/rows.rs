//! Reading a row into a struct by its columns' names, without sqlx's derive:
//! its proc-macro crate builds sqlx-core and sqlx-postgres a second time for
//! the build host (docs/development.md, "Build profiles").

/// Implements `sqlx::FromRow` for a struct: each listed field read from the
/// column of its name, each `flatten` field read from the same row by its own
/// `FromRow`, each `default` field left at its default (filled in later).
///
/// ```ignore
/// from_row!(Seat { id, number, price });
/// from_row!(ScheduledSeat { schedule_id }, flatten { seat });
/// ```
macro_rules! from_row {
    (
        $ty:ident { $($field:ident),* $(,)? }
        $(, flatten { $($flat:ident),* $(,)? })?
        $(, default { $($skip:ident),* $(,)? })?
        $(,)?
    ) => {
        impl<'r> ::sqlx::FromRow<'r, ::sqlx::postgres::PgRow> for $ty {
            fn from_row(row: &'r ::sqlx::postgres::PgRow) -> ::std::result::Result<Self, ::sqlx::Error> {
                use ::sqlx::Row as _;
                Ok(Self {
                    $($field: row.try_get(stringify!($field))?,)*
                    $($($flat: ::sqlx::FromRow::from_row(row)?,)*)?
                    $($($skip: ::std::default::Default::default(),)*)?
                })
            }
        }
    };
}
pub(crate) use from_row;
