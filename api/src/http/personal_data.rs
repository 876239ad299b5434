//! `GET /personal-data/{id}.zip`: a subject access export, for staff to hand
//! to the person or co-op (`exportPersonalData` gives the address). One zip
//! file holding a `README.txt` (what is in it, what is not and why),
//! `personal-data.json` (everything, one document) and a CSV per table
//! (UTF-8 with a byte-order mark, CRLF line ends, formulas defused, as the
//! survey CSV), built in memory: a person's data is small, and each table is
//! bounded (`programme::personal_data::MAX_ROWS_PER_TABLE`).
//!
//! 401 without a valid token, 403 for anyone but staff (before the id is
//! looked at), 404 for an id that is no person or co-op. Each download is
//! recorded in the audit trail (`downloadPersonalData`: who, whose, how many
//! rows), never its content; no shared cache keeps it (`no-store`).

use std::io::{Cursor, Write};

use async_graphql::ID;
use axum::{
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use chrono::{Datelike, Timelike};
use serde_json::{Map, Value, json};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::download::{BOM, defuse, refusal, staff_viewer};
use crate::{
    error::{ApiError, ApiResult},
    graphql::relay::{NodeType, decode_global_id},
    programme::personal_data::{self, MAX_ROWS_PER_TABLE, PersonalData, Subject},
    state::AppState,
};

/// The address of a subject's export, under `HIVE_PUBLIC_URL`.
pub fn path_of(subject: Subject) -> String {
    format!("/personal-data/{}.zip", subject.global_id())
}

/// The subject a file name (`{global id}.zip`) names: a User or an
/// Organisation; NOT_FOUND for anything else.
fn subject_of(file: &str) -> ApiResult<Subject> {
    let missing = || ApiError::not_found("No person or co-op has that id.");
    let id = file.strip_suffix(".zip").ok_or_else(missing)?;
    match decode_global_id(&ID(id.to_string())).map_err(|_| missing())? {
        (NodeType::User, row) => Ok(Subject::Person(row)),
        (NodeType::Organisation, row) => Ok(Subject::Organisation(row)),
        _ => Err(missing()),
    }
}

/// GET: the zip, as an attachment.
pub async fn download(
    State(state): State<AppState>,
    file: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let viewer = match staff_viewer(
        &state,
        &headers,
        crate::access::may_export_personal_data,
        "Personal data exports are for staff.",
    )
    .await
    {
        Ok(viewer) => viewer,
        Err(error) => return refusal("personal data export", error),
    };
    let file = file.map(|Path(file)| file).unwrap_or_default();
    let built = async {
        let subject = subject_of(&file)?;
        let data = personal_data::collect(&state.db, &state.settings, &viewer, subject).await?;
        // Compressing up to 5,000 rows a table takes milliseconds of CPU:
        // off the async workers, which serve every other request meanwhile.
        let (data, zip) = tokio::task::spawn_blocking(move || {
            let zip = write_zip(&data);
            (data, zip)
        })
        .await
        .map_err(|error| ApiError::internal(format!("writing an export: {error}")))?;
        let zip = zip?;
        personal_data::record_download(&state.db, &viewer, &data).await?;
        Ok::<_, ApiError>((data, zip))
    }
    .await;
    match built {
        Ok((data, zip)) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"",
                        data.subject.filename(data.generated_at)
                    ),
                ),
                // Personal data: no copy in a shared cache.
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            zip,
        )
            .into_response(),
        Err(error) => refusal("personal data export", error),
    }
}

/// The whole file.
pub fn write_zip(data: &PersonalData) -> ApiResult<Vec<u8>> {
    let at = data.generated_at;
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .unwrap_or_default();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(stamp);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut add = |name: &str, bytes: &[u8]| -> ApiResult<()> {
        zip.start_file(name, options).map_err(ApiError::internal)?;
        zip.write_all(bytes).map_err(ApiError::internal)
    };
    add("README.txt", data.readme().as_bytes())?;
    let document = serde_json::to_vec_pretty(&document(data)).map_err(ApiError::internal)?;
    add("personal-data.json", &document)?;
    for table in &data.tables {
        add(&format!("{}.csv", table.name), &csv_of(table)?)?;
    }
    Ok(zip.finish().map_err(ApiError::internal)?.into_inner())
}

/// The JSON document: the subject, when, the bound, and each table's rows
/// as objects keyed by column.
fn document(data: &PersonalData) -> Value {
    let (kind, _) = data.subject.node();
    let mut tables = Map::new();
    for table in &data.tables {
        let rows: Vec<Value> = table
            .rows
            .iter()
            .map(|row| {
                Value::Object(
                    table
                        .columns
                        .iter()
                        .zip(row)
                        .map(|(column, value)| (column.to_string(), value.clone()))
                        .collect(),
                )
            })
            .collect();
        tables.insert(
            table.name.to_string(),
            json!({
                "description": table.description,
                "truncated": table.truncated,
                "rows": rows,
            }),
        );
    }
    json!({
        "subject": {"type": kind, "id": data.subject.global_id(), "name": data.name},
        "generatedAt": data.generated_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "maxRowsPerTable": MAX_ROWS_PER_TABLE,
        "notIncluded": [
            "concerns raised by others about the subject (staff handle them by hand)",
            "email bodies (their links held secret tokens)",
            "secret tokens of any kind",
            "a provider's learning, in a co-op's meetings",
        ],
        "tables": tables,
    })
}

/// One table as a CSV file a spreadsheet opens as it is.
fn csv_of(table: &personal_data::Table) -> ApiResult<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BOM.to_vec());
    writer
        .write_record(&table.columns)
        .map_err(ApiError::internal)?;
    for row in &table.rows {
        writer
            .write_record(row.iter().map(cell))
            .map_err(ApiError::internal)?;
    }
    writer
        .into_inner()
        .map_err(|error| ApiError::internal(error.error()))
}

/// A value as a cell: text defused, numbers and flags as written, null empty.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => defuse(text),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        other => defuse(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_a_person_or_a_co_op_only() {
        let person = hive_worker::ids::global_id("User", 12);
        assert_eq!(
            subject_of(&format!("{person}.zip")).unwrap(),
            Subject::Person(12)
        );
        let coop = hive_worker::ids::global_id("Organisation", 3);
        assert_eq!(
            subject_of(&format!("{coop}.zip")).unwrap(),
            Subject::Organisation(3)
        );
        let meeting = hive_worker::ids::global_id("Meeting", 3);
        for bad in [format!("{meeting}.zip"), person.clone(), "x.zip".into()] {
            assert_eq!(
                subject_of(&bad).unwrap_err().code(),
                crate::error::ErrorCode::NotFound
            );
        }
    }

    #[test]
    fn cells_are_text_a_spreadsheet_will_not_run() {
        assert_eq!(cell(&json!("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        assert_eq!(cell(&json!(-4)), "-4");
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!(true)), "true");
    }
}
