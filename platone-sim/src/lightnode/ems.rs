//! The EMS interface of a Light Node: HTTP (`GET /`) and Modbus TCP (holding registers), both
//! reading one [`SharedBoard`].

use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_modbus::{ExceptionCode, Request};

use super::board::{RegisterRefusal, SetPointBoard};
use crate::error::{Result, SimError};

/// A board shared by the MQTT side (which writes it) and the EMS interfaces (which read it).
pub type SharedBoard = Arc<Mutex<SetPointBoard>>;

/// The time set points are judged at: now, as the model's timestamp.
pub(super) fn now() -> platone_model::Timestamp {
    chrono::Utc::now().fixed_offset()
}

/// The HTTP interface: `GET /` → 200 `{"bspP": kW, "bspQ": kvar}` while a set point is
/// active (`null` for a quantity without one), 404 otherwise.
pub fn http_router(board: SharedBoard) -> Router {
    Router::new().route("/", get(targets)).with_state(board)
}

async fn targets(State(board): State<SharedBoard>) -> Response {
    let targets = board.lock().ok().and_then(|b| b.ems(&now()));
    match targets {
        Some(t) => axum::Json(t).into_response(),
        None => (StatusCode::NOT_FOUND, "no set point is active").into_response(),
    }
}

/// Serves [`http_router`] on `listener` until `stop` completes.
pub async fn serve_http(
    listener: TcpListener,
    board: SharedBoard,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, http_router(board))
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| SimError::Io(format!("the EMS HTTP interface stopped: {e}")))
}

/// The Modbus service: reads of holding registers (function 3) answered from the board,
/// anything else refused with exception 1 (illegal function).
#[derive(Debug, Clone)]
pub struct ModbusEms {
    board: SharedBoard,
}

impl ModbusEms {
    /// The service over `board`.
    pub fn new(board: SharedBoard) -> Self {
        ModbusEms { board }
    }
}

impl tokio_modbus::server::Service for ModbusEms {
    type Request = Request<'static>;
    type Response = tokio_modbus::Response;
    type Exception = ExceptionCode;
    type Future = Ready<std::result::Result<Self::Response, Self::Exception>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        ready(match request {
            Request::ReadHoldingRegisters(address, count) => self
                .board
                .lock()
                .map_err(|_| ExceptionCode::ServerDeviceFailure)
                .and_then(|b| {
                    b.read_registers(address, count, &now())
                        .map_err(|refusal| match refusal {
                            RegisterRefusal::IllegalDataAddress => {
                                ExceptionCode::IllegalDataAddress
                            }
                            RegisterRefusal::IllegalDataValue => ExceptionCode::IllegalDataValue,
                        })
                })
                .map(tokio_modbus::Response::ReadHoldingRegisters),
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

/// Serves [`ModbusEms`] over Modbus TCP on `listener` until `stop` completes.
pub async fn serve_modbus(
    listener: TcpListener,
    board: SharedBoard,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> Result<()> {
    let server = tokio_modbus::server::tcp::Server::new(listener);
    let service = ModbusEms::new(board);
    let on_connected = |stream, _address: SocketAddr| {
        let service = service.clone();
        async move { Ok(Some((service, stream))) }
    };
    let on_error = |e: std::io::Error| tracing::debug!("Modbus connection: {e}");
    server
        .serve_until(&on_connected, on_error, stop)
        .await
        .map(drop)
        .map_err(|e| SimError::Io(format!("the EMS Modbus interface stopped: {e}")))
}
