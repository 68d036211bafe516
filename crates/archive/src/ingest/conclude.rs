//! The end of an ingest: an accepted transfer's batches committed in every offer, then the
//! catalog in one transaction with its journal event and reply; a rejected one closed with
//! its reasons, its batches discarded.

use super::*;

impl Archive {
    /// Commits an accepted transfer or closes a rejected one, and writes the reply.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conclude(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        agent: &str,
        mut exam: Examination,
        asalae: bool,
        reply_path: &std::path::Path,
        deadline: &Deadline,
    ) -> Result<IngestOutcome, ArchiveError> {
        let phase = std::time::Instant::now();
        // The last moment to stop: from here the transfer is committed (the catalog's
        // transaction is not given up midway).
        if exam.report.status().is_accepted()
            && let Some(why) = deadline.over()
        {
            exam.report.error(STEP_BUDGET, "TIME_BUDGET", why);
        }
        let status = exam.report.status();
        let accepted = status.is_accepted() && exam.manifest.is_some();
        let at = self.now();
        let m = exam.manifest.take();
        let header = m.as_ref().map(|m| m.header.clone()).unwrap_or_default();

        let object_ids = std::mem::take(&mut exam.object_ids);
        let group_ids: Vec<String> = exam
            .plan
            .groups
            .iter()
            .map(|_| self.ids.next(IdKind::ObjectGroup))
            .collect();
        let unit_ids: Vec<String> = exam
            .plan
            .units
            .iter()
            .map(|_| self.ids.next(IdKind::Unit))
            .collect();

        // Store the manifest with the package (its SHA-256 goes into the summary, the journal
        // event and the deposit attestation), then make every offer's batch durable.
        let mut manifest_sha256 = None;
        if accepted {
            if let Some(mf) = exam.manifest_file.as_mut() {
                for (i, batch) in exam.batches.iter_mut().enumerate() {
                    use std::io::Seek;
                    mf.seek(std::io::SeekFrom::Start(0))
                        .map_err(|e| ArchiveError::io("rereading the manifest", e))?;
                    let mut w = batch.create("manifest.xml")?;
                    if i == 0 {
                        let mut hashing = HashingWriter {
                            inner: &mut w,
                            hasher: MultiHasher::new(&[DigestAlgorithm::Sha256]),
                        };
                        std::io::copy(mf, &mut hashing)
                            .map_err(|e| ArchiveError::io("storing the manifest", e))?;
                        manifest_sha256 = hashing.hasher.finish().pop().map(|d| d.hex);
                    } else {
                        std::io::copy(mf, &mut w)
                            .map_err(|e| ArchiveError::io("storing the manifest", e))?;
                    }
                    w.finish()?;
                }
            }
            if self.offers.iter().any(|o| o.is_worm()) {
                let (objects, manifest) = locks::transfer_locks(&exam.plan);
                for batch in exam.batches.iter_mut() {
                    for (name, lock) in object_ids.iter().zip(&objects) {
                        batch.lock(name, lock.clone());
                    }
                    batch.lock("manifest.xml", manifest.clone());
                }
            }
            for batch in std::mem::take(&mut exam.batches) {
                batch.commit()?;
            }
            exam.ran.push(STEP_STORAGE);
            tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "batches committed");
        } else {
            exam.batches.clear();
            for offer in &self.offers {
                offer.discard(tenant, operation)?;
            }
        }

        let total_reasons = exam.report.findings().len();
        let reasons: Vec<Reason> = exam
            .report
            .findings()
            .iter()
            .take(MAX_SUMMARY_REASONS)
            .map(|f| Reason {
                step: f.step.clone(),
                code: f.code.clone(),
                message: f.message.clone(),
                severity: match f.severity {
                    Severity::Warning => "WARNING".into(),
                    Severity::Error => "KO".into(),
                },
            })
            .collect();
        let summary = IngestSummary {
            status,
            operation: operation.to_string(),
            units: if accepted { exam.plan.units.len() } else { 0 },
            objects: if accepted { exam.plan.objects.len() } else { 0 },
            bytes: if accepted {
                exam.examined.iter().flatten().map(|x| x.size).sum()
            } else {
                0
            },
            reasons,
            reasons_omitted: (total_reasons.saturating_sub(MAX_SUMMARY_REASONS)) as u64,
            manifest_sha256,
            seda_version: exam.version.map(|v| v.as_str().to_owned()),
            message_identifier: m
                .as_ref()
                .map(|m| m.header.message_identifier.clone())
                .filter(|s| !s.is_empty()),
        };

        let ids = SystemIds {
            objects: &object_ids,
            groups: &group_ids,
            units: &unit_ids,
        };
        if asalae || exam.version.is_some_and(SedaVersion::describes_documents) {
            self.write_asalae_reply(
                &mut exam,
                m.as_ref(),
                operation,
                &at,
                accepted,
                &ids,
                reply_path,
            )?;
        } else {
            self.write_reply(
                &exam,
                m.as_ref(),
                operation,
                &at,
                accepted,
                &ids,
                reply_path,
            )?;
        }
        let mut reply = BufReader::new(
            File::open(reply_path).map_err(|e| ArchiveError::io("rereading the reply", e))?,
        );
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::Ingest,
            outcome: status,
            time: at.to_string(),
            agent: agent.into(),
            detail: serde_json::json!({
                "status": status,
                "seda_version": summary.seda_version,
                "message_identifier": header.message_identifier,
                "archival_agreement": header.archival_agreement,
                "originating_agency": header.originating_agency,
                "units": summary.units,
                "objects": summary.objects,
                "bytes": summary.bytes,
                "manifest_sha256": summary.manifest_sha256,
                "reasons": &summary.reasons[..summary.reasons.len().min(MAX_EVENT_REASONS)],
                "reasons_total": total_reasons,
            }),
        };
        let summary_json = serde_json::to_value(&summary)
            .map_err(|e| ArchiveError::Invalid(format!("summary: {e}")))?;
        if !accepted {
            self.catalog.finish_operation(
                tenant,
                OperationEnd {
                    operation,
                    status,
                    summary: &summary_json,
                    reply: Some(&mut reply),
                    ended_at: &at,
                    event: &event,
                },
            )?;
            return Ok(IngestOutcome { summary });
        }

        let m = m.as_ref().expect("accepted implies a manifest");
        let corrupt =
            |e: carnac_model::IdError| carnac_catalog::CatalogError::Corruption(e.to_string());
        let mut groups = exam.plan.groups.iter().zip(&group_ids).map(|(g, id)| {
            Ok(GroupRow {
                id: ObjectId::new(id.clone()).map_err(corrupt)?,
                xml_id: g.xml_id.clone(),
            })
        });
        let examined = &exam.examined;
        let plan = &exam.plan;
        let mut objects = plan.objects.iter().enumerate().map(|(i, planned)| {
            let o = &m.objects[planned.index];
            let x = examined.get(i).and_then(Option::as_ref);
            let strong: Option<Digest> = x.and_then(|x| {
                let preferred = planned
                    .declared_digest
                    .as_ref()
                    .map(|d| d.algorithm)
                    .filter(|a| a.is_strong())
                    .unwrap_or(DigestAlgorithm::Sha256);
                x.digests.iter().find(|d| d.algorithm == preferred).cloned()
            });
            let id = x.and_then(|x| x.identification.as_ref());
            Ok(ObjectRow {
                id: ObjectId::new(object_ids[i].clone()).map_err(corrupt)?,
                group: ObjectId::new(group_ids[planned.group].clone()).map_err(corrupt)?,
                xml_id: o.xml_id.clone(),
                physical: planned.physical,
                version: Some(planned.version.clone()),
                uri: o.uri.clone(),
                size: x.map(|x| x.size),
                digest: strong,
                puid: id.map(|i| i.puid.clone()),
                format_name: id.map(|i| i.name.clone()),
                mime_type: id.and_then(|i| i.mime_type.clone()),
                filename: o.filename.clone(),
            })
        });
        let offers: Vec<String> = self.offers.iter().map(|o| o.name().to_owned()).collect();
        let spool = exam.spool.as_ref();
        let mut units = plan.units.iter().enumerate().map(|(i, pu)| {
            let u = &m.units[pu.index];
            let metadata = spool
                .map(|s| s.get(pu.index))
                .transpose()
                .map_err(|e| {
                    carnac_catalog::CatalogError::storage_in("reading the metadata spool", e)
                })?
                .unwrap_or_default();
            let id = |s: &String| UnitId::new(s.clone()).map_err(corrupt);
            Ok(UnitRow {
                id: id(&unit_ids[i])?,
                xml_id: u.xml_id.clone(),
                title: u.title().to_owned(),
                description_level: u.description_level.clone(),
                start_date: u.start_date.clone(),
                end_date: u.end_date.clone(),
                originating_agency: u
                    .originating_agency
                    .clone()
                    .or_else(|| m.header.originating_agency.clone()),
                parents: pu
                    .parents
                    .iter()
                    .map(|&p| id(&unit_ids[p]))
                    .collect::<Result<_, _>>()?,
                object_groups: pu
                    .groups
                    .iter()
                    .map(|&g| ObjectId::new(group_ids[g].clone()).map_err(corrupt))
                    .collect::<Result<_, _>>()?,
                keywords: u.keywords.clone(),
                management: pu.management.clone(),
                metadata: String::from_utf8_lossy(&metadata).into_owned(),
            })
        });
        let phase = std::time::Instant::now();
        self.catalog.commit_ingest(
            tenant,
            IngestCommit {
                operation,
                groups: &mut groups,
                objects: &mut objects,
                offers: &offers,
                units: &mut units,
                status,
                summary: summary_json,
                reply: &mut reply,
                ended_at: &at,
                event: &event,
            },
        )?;
        tracing::debug!(elapsed = ?phase.elapsed(), rss_mb = rss_mb(), "catalog committed");
        Ok(IngestOutcome { summary })
    }
}
