//! A principal's data as a whole, for title tokens (GS2 dumpUserDataByUserId and
//! cleanUserDataByUserId): the export archive and the erase.

use std::io;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::Stream;

use crate::blob::Blobs;
use crate::domain::{Caller, PrincipalId, time};
use crate::error::ApiError;
use crate::handlers::{AppState, xml};
use crate::services::principal_data::{self, ChannelSink, Export};
use crate::xml::render;

/// The principal of the path, for a title token only: a principal token may
/// neither export nor erase, not even its own data (refused before the path is read).
fn principal_for_title(
    caller: &Caller,
    principal: Result<PrincipalId, ApiError>,
    what: &str,
) -> Result<u32, ApiError> {
    if let Some(me) = caller.principal {
        return Err(ApiError::permission_denied(format!(
            "principal {me} may not {what}: only a title token may"
        )));
    }
    Ok(principal?.0)
}

/// `GET /nex/datastore/v2/principals/{principal_id}/export`: a tar of everything the
/// principal has in the namespace, streamed with its exact `Content-Length`.
pub async fn export_principal(
    state: web::Data<AppState>,
    caller: Caller,
    principal: Result<PrincipalId, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let principal = principal_for_title(&caller, principal, "export a principal's data")?;
    let export = principal_data::plan_export(
        &state.store,
        &state.blobs,
        caller.namespace.clone(),
        principal,
        time::now(),
        render::export_documents,
    )
    .await?;
    let size = export.size();
    let disposition = format!(
        "attachment; filename=\"nexds-{}-{principal}.tar\"",
        caller.namespace
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/x-tar"))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .body(SizedStream::new(
            size,
            archive_stream(export, state.blobs.clone(), principal),
        )))
}

/// The archive as a response body, written by a task of its own. A failure ends
/// the body short of its Content-Length, so the client sees it.
fn archive_stream(
    export: Export,
    blobs: Blobs,
    principal: u32,
) -> impl Stream<Item = io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(16);
    actix_web::rt::spawn(async move {
        let mut sink = ChannelSink(tx);
        match export.write(&blobs, &mut sink).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                log::debug!("the client of the export of principal {principal} hung up");
            }
            Err(e) => {
                log::error!("the export of principal {principal} failed: {e}");
                let _ = sink.0.send(Err(e)).await;
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

/// `POST /nex/datastore/v2/principals/{principal_id}/erase`, alias
/// `DELETE …/principals/{principal_id}`: removes everything the principal has in the
/// namespace and answers the counts.
pub async fn erase_principal(
    state: web::Data<AppState>,
    caller: Caller,
    principal: Result<PrincipalId, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let principal = principal_for_title(&caller, principal, "erase a principal's data")?;
    let erased = principal_data::erase(
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
