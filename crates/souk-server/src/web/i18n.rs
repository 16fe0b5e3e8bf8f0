//! English and Simplified Chinese: chosen by `?lang=`, then the `souk_lang` cookie (set by the
//! switch on every page), then the browser's `Accept-Language`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::Zh)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The page's language from the query's `lang`, the cookie, then `Accept-Language`
    /// (its first supported tag by q-value; English when none is).
    pub fn choose(query: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> Lang {
        let from_query = query.and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| Lang::parse(v))
        });
        if let Some(l) = from_query.or_else(|| cookie.and_then(Lang::parse)) {
            return l;
        }
        let mut tags: Vec<(f32, Lang)> = accept
            .unwrap_or("")
            .split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        tags.first().map_or(Lang::En, |t| t.1)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// Every fixed text of the console pages, per language.
#[derive(Debug, Serialize)]
pub struct Texts {
    pub brand: &'static str,
    pub shop: &'static str,
    pub my_orders: &'static str,
    pub reviews: &'static str,
    pub login: &'static str,
    pub logout: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub category: &'static str,
    pub delivery_type: &'static str,
    pub billing_mode: &'static str,
    pub any: &'static str,
    pub min_price: &'static str,
    pub max_price: &'static str,
    pub sort: &'static str,
    pub sort_relevance: &'static str,
    pub sort_price_asc: &'static str,
    pub sort_price_desc: &'static str,
    pub sort_newest: &'static str,
    pub from_price: &'static str,
    pub no_results: &'static str,
    pub next_page: &'static str,
    pub prev_page: &'static str,
    pub description: &'static str,
    pub usage_guide: &'static str,
    pub agreement: &'static str,
    pub seller: &'static str,
    pub specs_prices: &'static str,
    pub buy: &'static str,
    pub periods: &'static str,
    pub quantity: &'static str,
    pub buy_login_hint: &'static str,
    pub orders: &'static str,
    pub instances: &'static str,
    pub state: &'static str,
    pub amount: &'static str,
    pub created: &'static str,
    pub product: &'static str,
    pub show_credentials: &'static str,
    pub credentials: &'static str,
    pub credentials_pending: &'static str,
    pub expires: &'static str,
    pub balance: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub reason: &'static str,
    pub review_queue: &'static str,
    pub nothing_to_review: &'static str,
    pub submitted: &'static str,
    pub error: &'static str,
    pub back: &'static str,
    pub language: &'static str,
    pub my_products: &'static str,
    pub test_endpoint: &'static str,
    pub test_result: &'static str,
    pub passed: &'static str,
    pub failed: &'static str,
    pub warnings: &'static str,
    pub step: &'static str,
    pub check: &'static str,
    pub fix: &'static str,
    pub review_comment: &'static str,
    pub production_url: &'static str,
    pub no_products: &'static str,
}

static EN: Texts = Texts {
    brand: "Souk",
    shop: "Marketplace",
    my_orders: "My orders",
    reviews: "Review queue",
    login: "Log in",
    logout: "Log out",
    email: "E-mail",
    password: "Password",
    search: "Search",
    search_placeholder: "Search products, e.g. monitoring or 监控",
    category: "Category",
    delivery_type: "Delivery",
    billing_mode: "Billing",
    any: "Any",
    min_price: "Price from",
    max_price: "Price up to",
    sort: "Sort",
    sort_relevance: "Best match",
    sort_price_asc: "Price: low to high",
    sort_price_desc: "Price: high to low",
    sort_newest: "Newest",
    from_price: "from",
    no_results: "No product matches. Try fewer or other words.",
    next_page: "Next page",
    prev_page: "Previous page",
    description: "Description",
    usage_guide: "Usage guide",
    agreement: "Service agreement",
    seller: "Seller",
    specs_prices: "Specifications and prices",
    buy: "Buy with balance",
    periods: "Periods",
    quantity: "Quantity",
    buy_login_hint: "Log in as a buyer to buy.",
    orders: "Orders",
    instances: "Instances",
    state: "State",
    amount: "Amount",
    created: "Created",
    product: "Product",
    show_credentials: "Show credentials",
    credentials: "Credentials",
    credentials_pending: "The seller has not opened this instance yet; reload in a moment.",
    expires: "Expires",
    balance: "Balance",
    approve: "Approve",
    reject: "Reject",
    reason: "Reason",
    review_queue: "Products and revisions waiting for review",
    nothing_to_review: "Nothing waits for review.",
    submitted: "Submitted",
    error: "Something is not right",
    back: "Back",
    language: "Language",
    my_products: "My products",
    test_endpoint: "Test my endpoint",
    test_result: "Endpoint test",
    passed: "passed",
    failed: "failed",
    warnings: "warnings",
    step: "Step",
    check: "Check",
    fix: "How to fix",
    review_comment: "Review comment",
    production_url: "Production URL",
    no_products: "No products yet.",
};

static ZH: Texts = Texts {
    brand: "Souk 云商店",
    shop: "商品市场",
    my_orders: "我的订单",
    reviews: "审核队列",
    login: "登录",
    logout: "退出",
    email: "邮箱",
    password: "密码",
    search: "搜索",
    search_placeholder: "搜索商品，例如 监控 或 monitoring",
    category: "类目",
    delivery_type: "交付方式",
    billing_mode: "计费模式",
    any: "不限",
    min_price: "最低价",
    max_price: "最高价",
    sort: "排序",
    sort_relevance: "最佳匹配",
    sort_price_asc: "价格从低到高",
    sort_price_desc: "价格从高到低",
    sort_newest: "最新上架",
    from_price: "起",
    no_results: "没有匹配的商品，请换个关键词。",
    next_page: "下一页",
    prev_page: "上一页",
    description: "商品描述",
    usage_guide: "使用指南",
    agreement: "服务协议",
    seller: "商家",
    specs_prices: "规格与价格",
    buy: "使用余额购买",
    periods: "购买时长",
    quantity: "数量",
    buy_login_hint: "请以买家身份登录后购买。",
    orders: "订单",
    instances: "实例",
    state: "状态",
    amount: "金额",
    created: "创建时间",
    product: "商品",
    show_credentials: "查看凭据",
    credentials: "凭据",
    credentials_pending: "商家尚未开通该实例，请稍后刷新。",
    expires: "到期时间",
    balance: "余额",
    approve: "通过",
    reject: "驳回",
    reason: "原因",
    review_queue: "待审核的商品与变更",
    nothing_to_review: "没有待审核的内容。",
    submitted: "提交时间",
    error: "出错了",
    back: "返回",
    language: "语言",
    my_products: "我的商品",
    test_endpoint: "交付接口调试",
    test_result: "接口调试结果",
    passed: "通过",
    failed: "失败",
    warnings: "警告",
    step: "步骤",
    check: "检查项",
    fix: "修复建议",
    review_comment: "审核意见",
    production_url: "生产接口地址",
    no_products: "还没有商品。",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_beats_cookie_beats_accept_language_by_quality() {
        assert_eq!(
            Lang::choose(Some("q=x&lang=zh"), Some("en"), None),
            Lang::Zh
        );
        assert_eq!(Lang::choose(None, Some("zh"), Some("en")), Lang::Zh);
        assert_eq!(
            Lang::choose(None, None, Some("fr, en;q=0.5, zh-CN;q=0.8")),
            Lang::Zh
        );
        assert_eq!(Lang::choose(None, None, Some("fr")), Lang::En);
        assert_eq!(Lang::choose(None, None, None), Lang::En);
    }
}
