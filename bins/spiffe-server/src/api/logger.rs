//! `spire.api.server.logger.v1.Logger`: read, change and reset the log level of the running
//! server (admin socket only), through daemon-telemetry's [`LogHandle`].

use daemon_telemetry::{LogHandle, LogLevel};
use spire_api_proto::server::logger::v1::logger_server::Logger;
use spire_api_proto::server::logger::v1::{
    GetLoggerRequest, ResetLogLevelRequest, SetLogLevelRequest,
};
use spire_api_proto::types::{self, LogLevel as ApiLevel};
use tonic::{Request, Response, Status};

/// The Logger service.
#[derive(Debug, Clone)]
pub(crate) struct LoggerService {
    log: LogHandle,
}

impl LoggerService {
    pub(crate) fn new(log: LogHandle) -> Self {
        Self { log }
    }

    fn state(&self) -> types::Logger {
        types::Logger {
            current_level: to_api(self.log.level()) as i32,
            launch_level: to_api(self.log.launch_level()) as i32,
        }
    }
}

fn to_api(level: LogLevel) -> ApiLevel {
    match level {
        LogLevel::Panic => ApiLevel::Panic,
        LogLevel::Fatal => ApiLevel::Fatal,
        LogLevel::Error => ApiLevel::Error,
        LogLevel::Warn => ApiLevel::Warn,
        LogLevel::Info => ApiLevel::Info,
        LogLevel::Debug => ApiLevel::Debug,
        LogLevel::Trace => ApiLevel::Trace,
    }
}

fn from_api(level: ApiLevel) -> Option<LogLevel> {
    Some(match level {
        ApiLevel::Unspecified => return None,
        ApiLevel::Panic => LogLevel::Panic,
        ApiLevel::Fatal => LogLevel::Fatal,
        ApiLevel::Error => LogLevel::Error,
        ApiLevel::Warn => LogLevel::Warn,
        ApiLevel::Info => LogLevel::Info,
        ApiLevel::Debug => LogLevel::Debug,
        ApiLevel::Trace => LogLevel::Trace,
    })
}

#[tonic::async_trait]
impl Logger for LoggerService {
    async fn get_logger(
        &self,
        _request: Request<GetLoggerRequest>,
    ) -> Result<Response<types::Logger>, Status> {
        tracing::info!("GetLogger Called");
        Ok(Response::new(self.state()))
    }

    async fn set_log_level(
        &self,
        request: Request<SetLogLevelRequest>,
    ) -> Result<Response<types::Logger>, Status> {
        let requested = request.get_ref().new_level;
        let level = ApiLevel::try_from(requested)
            .ok()
            .and_then(from_api)
            .ok_or_else(|| {
                if requested == ApiLevel::Unspecified as i32 {
                    Status::invalid_argument("newLevel value cannot be LogLevel_UNSPECIFIED")
                } else {
                    Status::invalid_argument(format!("unsupported log level {requested}"))
                }
            })?;
        tracing::info!(new_log_level = %level, "SetLogLevel Called");
        self.log.set_level(level);
        Ok(Response::new(self.state()))
    }

    async fn reset_log_level(
        &self,
        _request: Request<ResetLogLevelRequest>,
    ) -> Result<Response<types::Logger>, Status> {
        tracing::info!(launch_log_level = %self.log.launch_level(), "ResetLogLevel Called");
        self.log.reset_level();
        Ok(Response::new(self.state()))
    }
}
