//! A principal's data as a whole, for title tokens (GS2 dumpUserDataByUserId and
//! cleanUserDataByUserId): the export archive and the erase.

use std::io;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};

use crate::domain::{self, Caller, time};
use crate::error::ApiError;
use crate::handlers::{AppState, xml};
use crate::principals::{self, ChannelSink};
use crate::xml::render;

/// The principal of the path, for a title token only: a principal token may
/// neither export nor erase, not even its own data.
fn principal_for_title(caller: &Caller, path: &str, what: &str) -> Result<u32, ApiError> {
    if let Some(me) = caller.principal {
        return Err(ApiError::permission_denied(format!(
            "principal {me} may not {what}: only a title token may"
        )));
    }
    domain::check_principal(domain::parse_uint("principal_id", path)?, "principal_id")
}

/// `GET /nex/datastore/v2/principals/{principal_id}/export`: a tar of everything the
/// principal has in the namespace, streamed with its exact `Content-Length`.
pub async fn export_principal(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = principal_for_title(&caller, &path, "export a principal's data")?;
    let export = principals::plan_export(
        &state.store,
        &state.blobs,
        caller.namespace.clone(),
        principal,
        time::now(),
    )
    .await?;
    let size = export.size();
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(16);
    let blobs = state.blobs.clone();
    actix_web::rt::spawn(async move {
        let mut sink = ChannelSink(tx);
        match export.write(&blobs, &mut sink).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                log::debug!("the client of the export of principal {principal} hung up");
            }
            Err(e) => {
                log::error!("the export of principal {principal} failed: {e}");
                // The body ends short of its Content-Length: the client sees the failure.
                let _ = sink.0.send(Err(e)).await;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/x-tar"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"nexds-{}-{principal}.tar\"",
                caller.namespace
            ),
        ))
        .body(SizedStream::new(size, body)))
}

/// `POST /nex/datastore/v2/principals/{principal_id}/erase`, alias
/// `DELETE …/principals/{principal_id}`: removes everything the principal has in the
/// namespace and answers the counts.
pub async fn erase_principal(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = principal_for_title(&caller, &path, "erase a principal's data")?;
    let erased = principals::erase(
        &state.store,
        &state.blobs,
        caller.namespace.clone(),
        principal,
        time::now(),
        state.upload_form_secs,
    )
    .await?;
    Ok(xml(render::erased(&erased)))
}
