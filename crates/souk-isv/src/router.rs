//! The axum integration: [`router`] turns a [`Seller`] into a production endpoint.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::routing::any;
use axum::Router;

use crate::config::IsvConfig;
use crate::seller::{dispatch, Context, Seller};
use crate::verify::{SignedResponse, Verifier};

struct Endpoint<S> {
    seller: S,
    verifier: Verifier,
    config: Arc<IsvConfig>,
}

/// A router that serves `seller` as a KooGallery production interface.
///
/// It answers at `/` and, through its fallback, at every other path, so it can be nested
/// at the registered production path (`Router::new().nest("/produce", router(..))`) or
/// served as is. With [`crate::Profile::Auto`] a `GET` is a V1 call and a `POST` a V2 call.
/// Every answer is HTTP 200 with a JSON body and a `Body-Sign` header over the exact bytes,
/// including refusals (`000001` for authentication, `000002` for unreadable requests).
pub fn router<S: Seller>(seller: S, config: IsvConfig) -> Router {
    let config = Arc::new(config);
    let endpoint = Arc::new(Endpoint {
        seller,
        verifier: Verifier::new((*config).clone()),
        config,
    });
    Router::new()
        .route("/", any(handle::<S>))
        .fallback(handle::<S>)
        .with_state(endpoint)
}

async fn handle<S: Seller>(
    State(endpoint): State<Arc<Endpoint<S>>>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> SignedResponse {
    let query = query.unwrap_or_default();
    match endpoint.verifier.verify(&method, &query, &body) {
        Err(rejection) => {
            tracing::info!(%method, %rejection, "refused a production-interface call");
            endpoint.seller.rejected(&rejection);
            endpoint.verifier.sign(&rejection.response())
        }
        Ok(incoming) => {
            let activity = incoming.activity();
            let ctx = Context::new(endpoint.config.clone(), &incoming);
            let response = dispatch(&endpoint.seller, ctx, incoming).await;
            tracing::debug!(activity, result_code = %response.result_code, "answered");
            endpoint.verifier.sign(&response)
        }
    }
}
