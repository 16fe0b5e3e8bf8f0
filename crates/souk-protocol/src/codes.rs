//! Result codes (spec §6).
//!
//! [`ResultCode`] is the seller → marketplace `resultCode` (6 characters) of every production
//! interface response; [`LicenseErrorCode`] is the `error_code` of the marketplace's License
//! open API. Both keep unknown codes in an `Other(String)` variant.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// `resultCode` returned by sellers. Only `000000` means success; `000004` means the
    /// request was accepted and will complete asynchronously (V2 newInstance, getLicenseAsync).
    pub enum ResultCode {
        Success = "000000" => "success",
        AuthenticationFailed = "000001" => "authentication failed",
        InvalidParameter = "000002" => "invalid request parameter",
        /// Also "license id not found" for the License 2.0 seller interfaces.
        InstanceNotFound = "000003" => "instance id not found",
        Processing = "000004" => "request is being processed (accepted asynchronously)",
        InternalError = "000005" => "other internal error",
        NoResourceAvailable = "000100" => "no instance resource available",
        InvalidMobilePhone = "000101" => "mobile number empty or duplicate",
        InvalidEmail = "000102" => "e-mail empty or duplicate",
        AlreadyPurchased = "000103" => "product cannot be purchased twice",
        ProductServiceError = "000104" => "product internal service error",
        BenefitAlreadySubscribed = "000105" => "account already subscribed to benefits",
        SoldOut = "000106" => "product resources sold out",
        EmailDomainExists = "000107" => "SaaS e-mail domain already exists",
        LicenseQuotaInsufficient = "000900" => "insufficient license quota",
        LicenseOutsideOrderValidity = "000901" => "license must be applied within the order validity",
        LicenseExpiryRequired = "000902" => "a period license needs an expiry time",
        LicenseFingerprintRequired = "000903" => "the license needs a device fingerprint",
    }
}

impl ResultCode {
    /// `true` only for `000000`.
    pub fn is_success(&self) -> bool {
        *self == ResultCode::Success
    }

    /// `true` for `000004` (accepted; the marketplace polls or waits for completion).
    pub fn is_processing(&self) -> bool {
        *self == ResultCode::Processing
    }

    /// The documented meaning; unknown codes get a generic text.
    pub fn description(&self) -> &'static str {
        self.known_description().unwrap_or("unknown result code")
    }
}

wire_enum! {
    /// `error_code` of the License open API (activate / heartbeat, spec §6 and §9.3).
    pub enum LicenseErrorCode {
        Success = "92020000" => "success",
        InternalError = "92020001" => "internal error",
        InvalidParameter = "92020002" => "invalid parameter",
        IllegalState = "92020003" => "illegal state (do not activate twice)",
        NotReceived = "92020004" => "the user has not received the license code",
        LicenseNotExist = "92020005" => "license code does not exist",
        NotActivated = "92020011" => "license code not activated",
        InvalidLicenseExists = "92020020" => "an invalid license code exists",
        BadParameter = "95000001" => "bad parameter",
        MethodNotSupported = "95000002" => "HTTP method not supported",
        UnsupportedContentType = "95000003" => "content type must be application/json",
        UnreadableBody = "95000004" => "request body is unreadable",
        /// Souk extension (floating seats): every seat of the code is held by a live machine.
        SeatLimitReached = "92029001" => "every seat of this license code is in use",
        /// Souk extension: too many activation attempts on this code in the last hour.
        ActivationRateLimited = "92029002" => "too many activation attempts for this license code; try again later",
        /// Souk extension (floating seats): the machine holds no seat (never activated,
        /// culled after missing heartbeats, or deactivated by the seller): activate again.
        MachineNotActivated = "92029003" => "this machine holds no seat of the license code; activate it again",
    }
}

impl LicenseErrorCode {
    /// `true` only for `92020000`.
    pub fn is_success(&self) -> bool {
        *self == LicenseErrorCode::Success
    }

    /// The documented meaning; unknown codes get a generic text.
    pub fn description(&self) -> &'static str {
        self.known_description()
            .unwrap_or("unknown license error code")
    }

    /// The HTTP status documented next to the gateway-level `9500000x` codes; the `9202xxxx`
    /// business codes have none documented (`None`).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            LicenseErrorCode::BadParameter | LicenseErrorCode::UnreadableBody => Some(400),
            LicenseErrorCode::MethodNotSupported => Some(405),
            LicenseErrorCode::UnsupportedContentType => Some(415),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_round_trip() {
        for code in ResultCode::KNOWN {
            assert_eq!(&ResultCode::parse(code.as_str()), code);
            assert_eq!(code.as_str().len(), 6);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(serde_json::from_str::<ResultCode>(&json).unwrap(), *code);
        }
        for code in LicenseErrorCode::KNOWN {
            assert_eq!(&LicenseErrorCode::parse(code.as_str()), code);
        }
    }

    #[test]
    fn unknown_codes_are_preserved() {
        let code: ResultCode = serde_json::from_str("\"000777\"").unwrap();
        assert_eq!(code, ResultCode::Other("000777".into()));
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"000777\"");
        assert!(!code.is_success());
        assert_eq!(code.description(), "unknown result code");
        let lic = LicenseErrorCode::parse("92029999");
        assert_eq!(lic.as_str(), "92029999");
    }

    #[test]
    fn success_and_processing() {
        assert!(ResultCode::parse("000000").is_success());
        assert!(ResultCode::parse("000004").is_processing());
        assert!(!ResultCode::parse("0").is_success());
        assert_eq!(
            ResultCode::InstanceNotFound.description(),
            "instance id not found"
        );
        assert_eq!(
            LicenseErrorCode::UnsupportedContentType.http_status(),
            Some(415)
        );
    }
}
