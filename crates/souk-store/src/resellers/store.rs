//! `ResellerStore` for the SQL store.

use super::*;
use crate::commerce::insert_notice;

#[async_trait]
impl ResellerStore for SqlStore {
    async fn create_invitation(
        &self,
        reseller: &PartyId,
        token: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO reseller_invitations (token, reseller_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token)
        .bind(reseller.as_str())
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({});
        audit(
            &mut tx,
            now,
            Some(reseller),
            "reseller.invitation",
            reseller.as_str(),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invitations(&self, reseller: &PartyId) -> StoreResult<Vec<(String, OffsetDateTime)>> {
        let rows = sqlx::query(
            "SELECT token, created_at FROM reseller_invitations WHERE reseller_id = $1 \
             ORDER BY created_at DESC, token LIMIT 100",
        )
        .bind(reseller.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("token")?, from_unix_ms(r.try_get("created_at")?))))
            .collect()
    }

    async fn accept_invitation(
        &self,
        token: &str,
        buyer: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<Association> {
        let mut tx = self.write.begin().await?;
        let reseller: Option<String> =
            sqlx::query_scalar("SELECT reseller_id FROM reseller_invitations WHERE token = $1")
                .bind(token)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(reseller) = reseller.map(PartyId::from_trusted) else {
            return Ok(Association::UnknownInvitation);
        };
        let current: Option<String> =
            sqlx::query_scalar("SELECT reseller_id FROM reseller_customers WHERE buyer_id = $1")
                .bind(buyer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match current {
            Some(c) if c == reseller.as_str() => return Ok(Association::Already(reseller)),
            Some(_) => return Ok(Association::OtherReseller),
            None => {}
        }
        // §11: flagged buyers are never associated (read in the same transaction).
        let flags = exclusions_in(&mut tx, buyer).await?;
        if !flags.is_empty() {
            return Ok(Association::Excluded(flags));
        }
        // A racing second acceptance loses on the primary key (a 409 conflict).
        sqlx::query(
            "INSERT INTO reseller_customers (buyer_id, reseller_id, invitation, associated_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(buyer.as_str())
        .bind(reseller.as_str())
        .bind(token)
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        let notice = souk_core::settlement::notice::customer_associated(buyer.as_str());
        insert_notice(&mut tx, &reseller, &notice, Some(buyer.as_str()), now).await?;
        let detail = serde_json::json!({ "reseller_id": reseller.as_str() });
        audit(
            &mut tx,
            now,
            Some(buyer),
            "reseller.customer_associated",
            buyer.as_str(),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Association::Associated(reseller))
    }

    async fn set_exclusions(
        &self,
        buyer: &PartyId,
        flags: &[AssociationExclusion],
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM parties WHERE id = $1 AND role = 'buyer'")
                .bind(buyer.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Ok(false);
        }
        sqlx::query("DELETE FROM association_exclusions WHERE buyer_id = $1")
            .bind(buyer.as_str())
            .execute(&mut *tx)
            .await?;
        for flag in AssociationExclusion::ALL
            .iter()
            .filter(|f| flags.contains(f))
        {
            sqlx::query(
                "INSERT INTO association_exclusions (buyer_id, flag, set_by, set_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(buyer.as_str())
            .bind(flag.as_str())
            .bind(actor.as_str())
            .bind(to_unix_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        let names: Vec<&str> = flags.iter().map(|f| f.as_str()).collect();
        let detail = serde_json::json!({ "flags": names });
        audit(
            &mut tx,
            now,
            Some(actor),
            "reseller.association_exclusions",
            buyer.as_str(),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn exclusions(&self, buyer: &PartyId) -> StoreResult<Vec<AssociationExclusion>> {
        let mut conn = self.read.acquire().await?;
        exclusions_in(&mut conn, buyer).await
    }

    async fn customers(&self, reseller: &PartyId) -> StoreResult<Vec<CustomerRecord>> {
        let rows = sqlx::query(
            "SELECT c.buyer_id, p.name, c.associated_at FROM reseller_customers c \
             JOIN parties p ON p.id = c.buyer_id WHERE c.reseller_id = $1 ORDER BY c.buyer_id",
        )
        .bind(reseller.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustomerRecord {
                    buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                    buyer_name: r.try_get("name")?,
                    associated_at: from_unix_ms(r.try_get("associated_at")?),
                })
            })
            .collect()
    }

    async fn reseller_of(&self, buyer: &PartyId) -> StoreResult<Option<(PartyId, OffsetDateTime)>> {
        let row = sqlx::query(
            "SELECT reseller_id, associated_at FROM reseller_customers WHERE buyer_id = $1",
        )
        .bind(buyer.as_str())
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok((
                PartyId::from_trusted(r.try_get("reseller_id")?),
                from_unix_ms(r.try_get("associated_at")?),
            ))
        })
        .transpose()
    }

    async fn create_authorisation(
        &self,
        a: &AuthorisationRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        let terms = serde_json::to_string(&a.terms).map_err(|e| corrupt("terms", e))?;
        sqlx::query(
            "INSERT INTO reseller_authorisations (id, seller_id, reseller_id, product_id, state, \
             terms, max_discount_bp, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(a.seller_id.as_str())
        .bind(a.reseller_id.as_str())
        .bind(&a.product_id)
        .bind(a.state.as_str())
        .bind(terms)
        .bind(a.max_discount_bp.bp() as i64)
        .bind(to_unix_ms(now))
        .execute(&mut *tx)
        .await?;
        let notice = souk_core::settlement::notice::authorised(&a.product_id, a.state);
        insert_notice(&mut tx, &a.reseller_id, &notice, Some(&a.id), now).await?;
        let detail = serde_json::json!({
            "reseller_id": a.reseller_id.as_str(), "product_id": a.product_id,
            "state": a.state.as_str(), "terms": a.terms,
            "max_discount_bp": a.max_discount_bp.bp(),
        });
        audit(
            &mut tx,
            now,
            Some(&a.seller_id),
            "reseller.authorised",
            &a.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn authorisations(
        &self,
        scope: &Scope,
        state: Option<AuthorisationState>,
        page: &Page,
    ) -> StoreResult<Vec<AuthorisationRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM reseller_authorisations WHERE ($1 IS NULL OR seller_id = $1 \
             OR reseller_id = $1) AND ($2 IS NULL OR state = $2) AND ($3 IS NULL OR id > $3) \
             ORDER BY id LIMIT $4",
        )
        .bind(scope.tenant().map(str::to_owned))
        .bind(state.map(|s| s.as_str().to_owned()))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(authorisation_from_row).collect()
    }

    async fn authorisation(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<AuthorisationRecord>> {
        let row = sqlx::query(
            "SELECT * FROM reseller_authorisations WHERE id = $1 AND ($2 IS NULL \
             OR seller_id = $2 OR reseller_id = $2)",
        )
        .bind(id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(authorisation_from_row).transpose()
    }

    async fn active_authorisation(
        &self,
        reseller: &PartyId,
        product_id: &str,
    ) -> StoreResult<Option<AuthorisationRecord>> {
        let row = sqlx::query(
            "SELECT * FROM reseller_authorisations WHERE reseller_id = $1 AND product_id = $2 \
             AND state = 'active'",
        )
        .bind(reseller.as_str())
        .bind(product_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(authorisation_from_row).transpose()
    }

    async fn move_authorisation(
        &self,
        id: &str,
        t: Transition<AuthorisationState>,
        reason: Option<&str>,
        actor: &PartyId,
        notices: &[(PartyId, souk_core::notice::Notice)],
        now: OffsetDateTime,
    ) -> StoreResult<AuthorisationRecord> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "UPDATE reseller_authorisations SET state = $1, reason = COALESCE($2, reason), \
             decided_at = $3, decided_by = $4 WHERE id = $5 AND state = $6 RETURNING *",
        )
        .bind(t.to.as_str())
        .bind(reason.map(str::to_owned))
        .bind(to_unix_ms(now))
        .bind(actor.as_str())
        .bind(id)
        .bind(t.from.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(lost_race("authorisation", id, t));
        };
        let record = authorisation_from_row(&row)?;
        for (party, notice) in notices {
            insert_notice(&mut tx, party, notice, Some(id), now).await?;
        }
        let detail = serde_json::json!({
            "from": t.from.as_str(), "to": t.to.as_str(), "reason": reason,
        });
        audit(
            &mut tx,
            now,
            Some(actor),
            "reseller.authorisation_moved",
            id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    async fn create_offer(&self, o: &OfferRecord) -> StoreResult<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "INSERT INTO reseller_offers (id, token, reseller_id, authorisation_id, product_id, \
             sku_id, billing_mode, unit_price_minor, currency, valid_from, valid_until, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&o.id)
        .bind(&o.token)
        .bind(o.reseller_id.as_str())
        .bind(&o.authorisation_id)
        .bind(&o.product_id)
        .bind(&o.sku_id)
        .bind(o.billing_mode.as_str())
        .bind(o.unit_price.amount_minor)
        .bind(o.unit_price.currency.as_str())
        .bind(to_unix_ms(o.valid_from))
        .bind(to_unix_ms(o.valid_until))
        .bind(to_unix_ms(o.created_at))
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "product_id": o.product_id, "sku_id": o.sku_id, "unit_price": o.unit_price,
        });
        audit(
            &mut tx,
            o.created_at,
            Some(&o.reseller_id),
            "reseller.offer",
            &o.id,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn offers(&self, scope: &Scope, page: &Page) -> StoreResult<Vec<OfferRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM reseller_offers WHERE ($1 IS NULL OR reseller_id = $1) \
             AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(scope.tenant().map(str::to_owned))
        .bind(page.after.clone())
        .bind(page.limit as i64)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(offer_from_row).collect()
    }

    async fn offer(&self, scope: &Scope, id: &str) -> StoreResult<Option<OfferRecord>> {
        let row = sqlx::query(
            "SELECT * FROM reseller_offers WHERE id = $1 AND ($2 IS NULL OR reseller_id = $2)",
        )
        .bind(id)
        .bind(scope.tenant().map(str::to_owned))
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(offer_from_row).transpose()
    }

    async fn offer_by_token(&self, token: &str) -> StoreResult<Option<OfferRecord>> {
        let row = sqlx::query("SELECT * FROM reseller_offers WHERE token = $1")
            .bind(token)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(offer_from_row).transpose()
    }

    async fn performance(
        &self,
        reseller: &PartyId,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<PerformanceRow>> {
        let rows = sqlx::query(
            "SELECT o.id, o.buyer_id, o.product_id, o.kind, o.state, \
             o.amount_minor - o.voucher_minor AS amount_minor, o.currency, o.paid_at, x.offer_id, x.terms, \
             CAST(COALESCE((SELECT SUM(e.amount_minor) FROM ledger_entries e \
                WHERE e.order_id = o.id AND e.kind = 'refund'), 0) AS BIGINT) AS refunded \
             FROM order_resellers x JOIN orders o ON o.id = x.order_id \
             WHERE x.reseller_id = $1 AND o.paid_at IS NOT NULL AND o.paid_at < $2 \
             ORDER BY o.paid_at, o.id",
        )
        .bind(reseller.as_str())
        .bind(to_unix_ms(until))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let currency: String = r.try_get("currency")?;
                Ok(PerformanceRow {
                    order_id: OrderId::from_trusted(r.try_get("id")?),
                    buyer_id: PartyId::from_trusted(r.try_get("buyer_id")?),
                    product_id: r.try_get("product_id")?,
                    kind: r.try_get("kind")?,
                    state: r.try_get("state")?,
                    amount: Money::new(
                        r.try_get("amount_minor")?,
                        Currency::from_str(&currency).map_err(|e| corrupt("currency", e))?,
                    ),
                    paid_at: from_unix_ms(r.try_get("paid_at")?),
                    refunded_minor: r.try_get("refunded")?,
                    offer_id: r.try_get("offer_id")?,
                    terms: terms_of(r)?,
                })
            })
            .collect()
    }

    async fn reseller_unsettled(&self, before: OffsetDateTime) -> StoreResult<Vec<ResellerSource>> {
        statements::reseller_unsettled(self, before).await
    }

    async fn start_reseller_run(&self, period: &str, now: OffsetDateTime) -> StoreResult<bool> {
        statements::start_reseller_run(self, period, now).await
    }

    async fn finish_reseller_run(
        &self,
        period: &str,
        statements: usize,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        statements::finish_reseller_run(self, period, statements, now).await
    }

    async fn reseller_run_done(&self, period: &str) -> StoreResult<bool> {
        statements::reseller_run_done(self, period).await
    }

    async fn reseller_carried_in(
        &self,
        reseller: &PartyId,
        currency: Currency,
    ) -> StoreResult<i64> {
        statements::reseller_carried_in(self, reseller, currency).await
    }

    async fn issue_reseller_statement(
        &self,
        n: &NewResellerStatement,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        statements::issue_reseller_statement(self, n, now).await
    }

    async fn reseller_statements(
        &self,
        scope: &Scope,
        filter: &ResellerStatementFilter,
        page: &Page,
    ) -> StoreResult<Vec<ResellerStatementRecord>> {
        statements::reseller_statements(self, scope, filter, page).await
    }

    async fn reseller_statement(
        &self,
        scope: &Scope,
        id: &str,
    ) -> StoreResult<Option<ResellerStatementRecord>> {
        statements::reseller_statement(self, scope, id).await
    }

    async fn reseller_statement_lines(&self, id: &str) -> StoreResult<Vec<ResellerLine>> {
        statements::reseller_statement_lines(self, id).await
    }

    async fn reseller_statement_sources(&self, id: &str) -> StoreResult<Vec<ResellerItem>> {
        statements::reseller_statement_sources(self, id).await
    }

    async fn add_reseller_invoice(
        &self,
        r: &ResellerInvoiceRecord,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        workflow::add_invoice(self, r, now).await
    }

    async fn remove_reseller_invoice(
        &self,
        reseller: &PartyId,
        statement_id: &str,
        invoice_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<ResellerInvoiceRecord>> {
        workflow::remove_invoice(self, reseller, statement_id, invoice_id, now).await
    }

    async fn reseller_invoices(
        &self,
        statement_id: &str,
    ) -> StoreResult<Vec<ResellerInvoiceRecord>> {
        workflow::invoices(self, statement_id).await
    }

    async fn move_reseller_statement(
        &self,
        scope: &Scope,
        m: &ResellerStatementMove,
        actor: &PartyId,
        now: OffsetDateTime,
    ) -> StoreResult<ResellerStatementRecord> {
        workflow::move_statement(self, scope, m, actor, now).await
    }

    async fn due_reseller_invoices(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ResellerStatementRecord>> {
        workflow::due(self, now, limit).await
    }

    async fn flag_reseller_overdue(
        &self,
        id: &str,
        notice: &souk_core::notice::Notice,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        workflow::flag_overdue(self, id, notice, now).await
    }
}

/// A buyer's exclusion flags, in declaration order.
async fn exclusions_in(
    conn: &mut AnyConnection,
    buyer: &PartyId,
) -> StoreResult<Vec<AssociationExclusion>> {
    let set: Vec<String> =
        sqlx::query_scalar("SELECT flag FROM association_exclusions WHERE buyer_id = $1")
            .bind(buyer.as_str())
            .fetch_all(&mut *conn)
            .await?;
    Ok(AssociationExclusion::ALL
        .iter()
        .copied()
        .filter(|f| set.iter().any(|s| s == f.as_str()))
        .collect())
}
