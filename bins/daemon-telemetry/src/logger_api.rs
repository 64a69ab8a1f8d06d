//! SPIRE's Logger API over a [`LogHandle`]: read the current and launch levels, set a new level,
//! reset to the launch level. The server (`spire.api.server.logger.v1.Logger`) and the agent
//! (`spire.api.agent.logger.v1.Logger`) serve the same three calls with the same semantics
//! (SPIRE's `pkg/{server,agent}/api/logger/v1`), so one [`LoggerService`] implements both.

use spire_api_proto::agent::logger::v1 as agentv1;
use spire_api_proto::server::logger::v1 as serverv1;
use spire_api_proto::types::{self, LogLevel as ApiLevel};
use tonic::{Request, Response, Status};

use crate::{LogHandle, LogLevel};

/// The Logger service of one daemon: the levels of its [`LogHandle`].
#[derive(Debug, Clone)]
pub struct LoggerService {
    log: LogHandle,
}

/// The API's name of a level.
pub fn to_api(level: LogLevel) -> ApiLevel {
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

/// The level an API value names; `None` for UNSPECIFIED.
pub fn from_api(level: ApiLevel) -> Option<LogLevel> {
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

impl LoggerService {
    /// The service over `log`; logs its launch level, as SPIRE does when it configures it.
    pub fn new(log: LogHandle) -> Self {
        tracing::info!(launch_log_level = %log.launch_level(), "Logger service configured");
        Self { log }
    }

    /// `GetLogger`: the current and the launch level.
    pub fn state(&self) -> types::Logger {
        types::Logger {
            current_level: to_api(self.log.level()) as i32,
            launch_level: to_api(self.log.launch_level()) as i32,
        }
    }

    /// `SetLogLevel`: the levels after setting `requested` (an API `LogLevel`), or
    /// INVALID_ARGUMENT, with SPIRE's messages, for UNSPECIFIED and unknown values (the level
    /// is then unchanged).
    pub fn set(&self, requested: i32) -> Result<types::Logger, Status> {
        if requested == ApiLevel::Unspecified as i32 {
            return Err(Status::invalid_argument(
                "newLevel value cannot be LogLevel_UNSPECIFIED",
            ));
        }
        let level = ApiLevel::try_from(requested)
            .ok()
            .and_then(from_api)
            .ok_or_else(|| Status::invalid_argument("unsupported log level"))?;
        tracing::info!(new_log_level = %level, "SetLogLevel Called");
        self.log.set_level(level);
        Ok(self.state())
    }

    /// `ResetLogLevel`: back to the launch level; the levels after.
    pub fn reset(&self) -> types::Logger {
        tracing::info!(launch_log_level = %self.log.launch_level(), "ResetLogLevel Called");
        self.log.reset_level();
        self.state()
    }

    /// The server's gRPC service (`spire.api.server.logger.v1.Logger`).
    pub fn server_service(self) -> serverv1::logger_server::LoggerServer<Self> {
        serverv1::logger_server::LoggerServer::new(self)
    }

    /// The agent's gRPC service (`spire.api.agent.logger.v1.Logger`).
    pub fn agent_service(self) -> agentv1::logger_server::LoggerServer<Self> {
        agentv1::logger_server::LoggerServer::new(self)
    }
}

/// The gRPC trait of one package's Logger service, answered by the methods above.
macro_rules! logger_service {
    ($package:ident) => {
        #[tonic::async_trait]
        impl $package::logger_server::Logger for LoggerService {
            async fn get_logger(
                &self,
                _request: Request<$package::GetLoggerRequest>,
            ) -> Result<Response<types::Logger>, Status> {
                tracing::info!("GetLogger Called");
                Ok(Response::new(self.state()))
            }

            async fn set_log_level(
                &self,
                request: Request<$package::SetLogLevelRequest>,
            ) -> Result<Response<types::Logger>, Status> {
                self.set(request.get_ref().new_level).map(Response::new)
            }

            async fn reset_log_level(
                &self,
                _request: Request<$package::ResetLogLevelRequest>,
            ) -> Result<Response<types::Logger>, Status> {
                Ok(Response::new(self.reset()))
            }
        }
    };
}

logger_service!(serverv1);
logger_service!(agentv1);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{logging, LogSettings};

    fn service(launch: LogLevel) -> LoggerService {
        let settings = LogSettings {
            level: launch,
            ..LogSettings::default()
        };
        let (_dispatch, handle) = logging::build_with_writer(&settings, std::io::sink());
        LoggerService::new(handle)
    }

    #[test]
    fn set_changes_the_current_level_and_reset_restores_the_launch_level() {
        let s = service(LogLevel::Info);
        assert_eq!(s.state().current_level, ApiLevel::Info as i32);
        let after = s.set(ApiLevel::Debug as i32).unwrap();
        assert_eq!(after.current_level, ApiLevel::Debug as i32);
        assert_eq!(after.launch_level, ApiLevel::Info as i32);
        assert_eq!(s.state(), after);
        let reset = s.reset();
        assert_eq!(reset.current_level, ApiLevel::Info as i32);
        assert_eq!(reset.launch_level, ApiLevel::Info as i32);
    }

    #[test]
    fn unspecified_and_unknown_levels_are_refused_with_spires_messages() {
        let s = service(LogLevel::Warn);
        let err = s.set(ApiLevel::Unspecified as i32).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            err.message(),
            "newLevel value cannot be LogLevel_UNSPECIFIED"
        );
        let err = s.set(99).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.message(), "unsupported log level");
        assert_eq!(s.state().current_level, ApiLevel::Warn as i32);
    }

    #[test]
    fn every_level_round_trips_through_the_api() {
        for level in [
            LogLevel::Panic,
            LogLevel::Fatal,
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ] {
            assert_eq!(from_api(to_api(level)), Some(level));
        }
        assert_eq!(from_api(ApiLevel::Unspecified), None);
    }
}
