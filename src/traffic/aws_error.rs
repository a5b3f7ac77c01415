//! ELBv2 SDK errors as the lifecycle and its user see them: the kind a
//! caller acts on ([`TrafficError`]: retry, per target, or the API is
//! unusable), one line that says what happened and what to do, and the
//! SDK's own debug text kept apart ([`TrafficError::raw`]) for `-vvv`.

use super::{Message, TrafficError};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use std::error::Error;
use std::fmt::Debug;

/// One API call, for messages.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The API action (`DescribeTargetHealth`); IAM calls it
    /// `elasticloadbalancing:DescribeTargetHealth`.
    pub action: &'static str,
    /// The target group's ARN (or its name, before the lookup).
    pub resource: &'a str,
    /// Where the calls go: "the ELBv2 API at URL" or "… in REGION".
    pub api: &'a str,
}

/// Where credentials come from, for every message about them.
pub const CREDENTIALS_HELP: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
     AWS_PROFILE (a profile in ~/.aws/config or ~/.aws/credentials; run `aws sso login` first \
     for SSO)";

const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
];
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
];
const BAD_CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "AuthFailure",
];

/// An SDK error as the lifecycle sees it.
pub fn classify<E, R>(error: SdkError<E, R>, call: Call) -> TrafficError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: Debug + 'static,
{
    let (kind, text) = explain(&error, call);
    kind(Message {
        text: one_line(&text),
        raw: Some(format!("{error:?}")),
    })
}

type Kind = fn(Message) -> TrafficError;

fn explain<E, R>(error: &SdkError<E, R>, call: Call) -> (Kind, String)
where
    E: ProvideErrorMetadata + Error + 'static,
    R: Debug + 'static,
{
    let Call {
        action,
        resource,
        api,
    } = call;
    if let Some(code) = error.code() {
        let detail = match error.message() {
            Some(message) => format!("{code}: {message}"),
            None => code.to_string(),
        };
        return if THROTTLED.contains(&code) {
            (
                TrafficError::Throttled,
                // Shown as "throttled: …".
                format!("{action} on {resource} ({detail})"),
            )
        } else if code == "TargetGroupNotFound" {
            (TrafficError::NotFound, no_such_group(resource, api))
        } else if code == "InvalidTarget" {
            (TrafficError::InvalidTarget, detail)
        } else if DENIED.contains(&code) {
            (
                TrafficError::Setup,
                format!(
                    "access denied: these AWS credentials may not call \
                     elasticloadbalancing:{action} on {resource} ({detail}); allow it in their \
                     IAM policy, or use other credentials (AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY)"
                ),
            )
        } else if BAD_CREDENTIALS.contains(&code) {
            (
                TrafficError::Setup,
                format!(
                    "AWS rejected the credentials for {action} ({detail}): check or renew \
                     them; {CREDENTIALS_HELP}"
                ),
            )
        } else {
            (TrafficError::Api, format!("{resource}: {detail}"))
        };
    }
    let cause = innermost(error);
    match error {
        SdkError::DispatchFailure(dispatch) => match credentials_error(error) {
            Some(CredentialsError::CredentialsNotLoaded(_)) => (
                TrafficError::Setup,
                format!("no AWS credentials found for {action}: {CREDENTIALS_HELP}"),
            ),
            Some(_) => (
                TrafficError::Setup,
                format!("cannot load AWS credentials for {action} ({cause}): {CREDENTIALS_HELP}"),
            ),
            None if dispatch.is_io() || dispatch.is_timeout() => (
                TrafficError::Unreachable,
                format!(
                    "cannot reach {api} ({cause}): check the network and proxy settings \
                         (HTTPS_PROXY), or AWS_ENDPOINT_URL if it is set"
                ),
            ),
            None => (
                TrafficError::Api,
                format!("{action} on {resource}: {cause}"),
            ),
        },
        SdkError::TimeoutError(_) => (
            TrafficError::Unreachable,
            format!(
                "{api} did not answer {action} in time: check the network and proxy settings \
                 (HTTPS_PROXY), or AWS_ENDPOINT_URL if it is set"
            ),
        ),
        SdkError::ResponseError(_) => (
            TrafficError::Api,
            format!(
                "{api} answered {action} with something that is not an ELBv2 response \
                 ({cause}): check AWS_ENDPOINT_URL if it is set"
            ),
        ),
        _ => (
            TrafficError::Api,
            format!("{action} on {resource}: {cause}"),
        ),
    }
}

/// A target group `api` does not know, and what to check.
pub fn no_such_group(group: &str, api: &str) -> String {
    format!(
        "target group {group} does not exist according to {api}: check its name or ARN; a name \
         is looked up in the region of AWS_REGION (or of AWS_PROFILE), an ARN in its own"
    )
}

/// The credential provider's error, when that is why the call failed.
fn credentials_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a CredentialsError> {
    chain(error).find_map(|e| e.downcast_ref::<CredentialsError>())
}

/// The deepest cause ("Connection refused (os error 111)"): the SDK's
/// outer layers only say which stage failed.
fn innermost(error: &(dyn Error + 'static)) -> String {
    chain(error)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn Error + 'static)| (*e).source())
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;

    const ARN: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/6d0e";
    const CALL: Call = Call {
        action: "DescribeTargetGroups",
        resource: ARN,
        api: "the ELBv2 API in eu-west-1",
    };

    type Sdk = SdkError<DescribeTargetGroupsError, ()>;

    fn service(code: &str, message: &str) -> Sdk {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(DescribeTargetGroupsError::generic(meta), ())
    }

    /// Classifies, and checks what every message owes its reader.
    fn check(error: Sdk) -> TrafficError {
        let e = classify(error, CALL);
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        for dump in [
            "DispatchFailure",
            "ConnectorError",
            "ServiceError",
            "source:",
        ] {
            assert!(!text.contains(dump), "{text}");
        }
        assert!(e.raw().is_some_and(|raw| !raw.is_empty()), "{e:?}");
        e
    }

    #[test]
    fn missing_credentials_say_which_variables_to_set() {
        let missing = CredentialsError::not_loaded("no providers in chain provided credentials");
        let e = check(SdkError::dispatch_failure(ConnectorError::other(
            Box::new(missing),
            None,
        )));
        assert!(matches!(e, TrafficError::Setup(_)), "{e:?}");
        assert!(e.is_unavailable() && !e.is_transient());
        let text = e.to_string();
        assert!(text.starts_with("no AWS credentials found"), "{text}");
        assert!(
            text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_PROFILE"),
            "{text}"
        );
        assert!(e.raw().unwrap().contains("DispatchFailure"));
    }

    #[test]
    fn an_unreachable_endpoint_is_retried_then_named() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = check(SdkError::dispatch_failure(ConnectorError::io(Box::new(
            refused,
        ))));
        assert!(matches!(e, TrafficError::Unreachable(_)), "{e:?}");
        assert!(e.is_transient() && e.is_unavailable());
        let text = e.to_string();
        assert!(
            text.starts_with("cannot reach the ELBv2 API in eu-west-1 (connection refused)"),
            "{text}"
        );
        assert!(text.contains("AWS_ENDPOINT_URL"), "{text}");
        let e = check(SdkError::timeout_error("read timed out"));
        assert!(matches!(e, TrafficError::Unreachable(_)), "{e:?}");
    }

    #[test]
    fn access_denied_names_the_action_and_the_arn() {
        let e = check(service(
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ci is not authorized",
        ));
        assert!(matches!(e, TrafficError::Setup(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("elasticloadbalancing:DescribeTargetGroups on arn:aws:"),
            "{text}"
        );
        assert!(text.contains("user/ci is not authorized"), "{text}");
        let e = check(service(
            "InvalidClientTokenId",
            "The security token is invalid",
        ));
        assert!(matches!(e, TrafficError::Setup(_)), "{e:?}");
        assert!(e.to_string().contains("AWS_PROFILE"), "{e}");
    }

    #[test]
    fn service_codes_keep_their_kinds() {
        let e = check(service("Throttling", "Rate exceeded"));
        assert!(matches!(e, TrafficError::Throttled(_)) && e.is_transient());
        let e = check(service(
            "TargetGroupNotFound",
            "One or more target groups not found",
        ));
        assert!(matches!(e, TrafficError::NotFound(_)) && !e.is_transient());
        assert!(
            e.to_string()
                .starts_with(&format!("target group {ARN} does not exist")),
            "{e}"
        );
        let e = check(service("InvalidTarget", "i-1 is not in the VPC"));
        assert!(matches!(e, TrafficError::InvalidTarget(_)), "{e:?}");
        let e = check(service("InternalFailure", "try again"));
        assert!(matches!(e, TrafficError::Api(_)) && e.is_transient());
        assert!(!e.is_unavailable());
    }
}
