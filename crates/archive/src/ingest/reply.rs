//! The replies of an ingest: the SEDA 2.x ArchiveTransferReply (streamed from the plan and
//! the manifest), the as@lae reply for SEDA 0.2/1.0 and the as@lae intake, and the
//! acknowledgement written once the manifest is read.

use super::*;

impl Archive {
    /// Writes the ArchiveTransferReply to `path`, streaming the package's groups and units.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_reply(
        &self,
        exam: &Examination,
        m: Option<&Manifest>,
        operation: &OperationId,
        at: &str,
        accepted: bool,
        ids: &SystemIds<'_>,
        path: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        let report = &exam.report;
        let mut events = Vec::new();
        for (step, label) in STEPS {
            if !exam.ran.contains(step) && !report.findings().iter().any(|f| f.step == *step) {
                continue;
            }
            let outcome = report.step_status(step);
            let count = report.findings().iter().filter(|f| f.step == *step).count();
            events.push(ReplyEvent {
                type_code: (*step).to_owned(),
                label: (*label).to_owned(),
                date_time: at.to_owned(),
                outcome,
                outcome_detail: format!("{step}.{}", outcome.as_str()),
                message: if count == 0 {
                    String::new()
                } else {
                    format!("{count} finding(s)")
                },
            });
            for f in report.findings().iter().filter(|f| f.step == *step) {
                let outcome = match f.severity {
                    Severity::Warning => Status::Warning,
                    Severity::Error => Status::Ko,
                };
                events.push(ReplyEvent {
                    type_code: format!("{step}.{}", f.code),
                    label: (*label).to_owned(),
                    date_time: at.to_owned(),
                    outcome,
                    outcome_detail: format!("{step}.{}.{}", f.code, outcome.as_str()),
                    message: f.message.clone(),
                });
            }
        }
        // Findings of steps outside the list (none today) are not lost.
        for f in report
            .findings()
            .iter()
            .filter(|f| !STEPS.iter().any(|(s, _)| *s == f.step))
        {
            events.push(ReplyEvent {
                type_code: format!("{}.{}", f.step, f.code),
                label: f.step.clone(),
                date_time: at.to_owned(),
                outcome: if f.severity == Severity::Error {
                    Status::Ko
                } else {
                    Status::Warning
                },
                outcome_detail: format!("{}.{}", f.step, f.code),
                message: f.message.clone(),
            });
        }
        let header = m.map(|m| &m.header);
        let reply = TransferReply {
            version: exam.version.unwrap_or(SedaVersion::V2_1),
            message_identifier: operation.to_string(),
            date: at.to_owned(),
            request_identifier: header.map(|h| h.message_identifier.clone()),
            archival_agreement: header.and_then(|h| h.archival_agreement.clone()),
            archival_profile: header.and_then(|h| h.archival_profile.clone()),
            status: report.status(),
            grant_date: accepted.then(|| at.to_owned()),
            events,
            archival_agency: Some(self.config.archival_agency.clone()),
            transferring_agency: header.and_then(|h| h.transferring_agency.clone()),
        };
        let file = File::create(path).map_err(|e| ArchiveError::io("creating the reply", e))?;
        let mut out = std::io::BufWriter::new(file);
        let written = match m.filter(|_| accepted) {
            None => reply.write_xml(&mut out, None),
            Some(m) => {
                let plan = &exam.plan;
                // Objects in the order of their groups, without a list of objects per group.
                let mut by_group: Vec<u32> = (0..plan.objects.len() as u32).collect();
                by_group.sort_by_key(|&i| plan.objects[i as usize].group);
                let mut cursor = 0;
                let mut groups = plan.groups.iter().enumerate().map(|(gi, g)| {
                    let mut objects = Vec::new();
                    while let Some(&i) = by_group.get(cursor)
                        && plan.objects[i as usize].group == gi
                    {
                        let o = &plan.objects[i as usize];
                        objects.push(ReplyObject {
                            xml_id: m.objects[o.index].xml_id.clone(),
                            system_id: ids.objects[i as usize].clone(),
                            group_system_id: ids.groups[gi].clone(),
                            version: Some(o.version.clone()),
                            physical: o.physical,
                        });
                        cursor += 1;
                    }
                    ReplyGroup {
                        xml_id: g.xml_id.clone(),
                        objects,
                    }
                });
                let mut units = plan.units.iter().enumerate().map(|(i, u)| {
                    let mu = &m.units[u.index];
                    ReplyUnit {
                        xml_id: mu.xml_id.clone(),
                        system_id: ids.units[i].clone(),
                        title: mu.title().to_owned(),
                    }
                });
                reply.write_xml(
                    &mut out,
                    Some(ReplyPackage {
                        groups: &mut groups,
                        units: &mut units,
                    }),
                )
            }
        };
        written
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| ArchiveError::io("writing the reply", e))?;
        Ok(())
    }
}

/// The reply code of an as@lae reply (SEDA 1.0 code list of reply codes): `000` accepted;
/// `101` the message cannot be read or is inconsistent (container, XML, schema, package);
/// `200` an agency is unknown; `300` refused by the referentials (contract, profile, rules),
/// the content (digests, formats, antivirus) or the storage.
pub fn asalae_reply_code(report: &Report) -> &'static str {
    if report.status().is_accepted() {
        return "000";
    }
    let errors = || {
        report
            .findings()
            .iter()
            .filter(|f| f.severity == Severity::Error)
    };
    if errors().any(|f| {
        [
            STEP_CONTAINER,
            STEP_SEDA,
            checks::STEP_PACKAGE,
            checks::STEP_UNITS,
        ]
        .contains(&f.step.as_str())
    }) {
        "101"
    } else if errors().any(|f| f.code.starts_with("CHECK_AGENT")) {
        "200"
    } else {
        "300"
    }
}

impl Archive {
    /// Writes the reply as as@lae does (see `carnac_seda::asalae`): for SEDA 0.2 and 1.0 transfers,
    /// and for every transfer of the as@lae intake.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_asalae_reply(
        &self,
        exam: &mut Examination,
        m: Option<&Manifest>,
        operation: &OperationId,
        at: &str,
        accepted: bool,
        ids: &SystemIds<'_>,
        path: &std::path::Path,
    ) -> Result<(), ArchiveError> {
        use carnac_seda::asalae::{ReplyArchive, TransferReply as AsalaeReply};
        let header = m.map(|m| m.header.clone()).unwrap_or_default();
        let version = exam.version.unwrap_or(SedaVersion::V1_0);
        let mut comments = vec![if accepted {
            "Votre transfert d'archives a été accepté".to_owned()
        } else {
            "Votre transfert d'archives a été refusé".to_owned()
        }];
        for f in exam.report.findings() {
            let level = match f.severity {
                Severity::Error => "Erreur",
                Severity::Warning => "Avertissement",
            };
            comments.push(format!("{level} [{}.{}] {}", f.step, f.code, f.message));
        }
        let reply = AsalaeReply {
            version,
            identifier: format!("ATR_{operation}"),
            date: at.to_owned(),
            transfer_identifier: header.message_identifier.clone(),
            reply_code: asalae_reply_code(&exam.report).to_owned(),
            accepted,
            comments,
            archival_agreement: header.archival_agreement.clone(),
            // The agency the acknowledgement named: the bordereau's, or this archive's.
            archival_agency: header
                .archival_agency
                .clone()
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| self.config.archival_agency.clone()),
            transferring_agency: header.transferring_agency.clone().unwrap_or_default(),
        };
        let archives: Vec<ReplyArchive> = match m.filter(|_| accepted) {
            None => Vec::new(),
            Some(m) => exam
                .plan
                .units
                .iter()
                .enumerate()
                .filter(|(_, u)| u.parents.is_empty())
                .map(|(i, u)| ReplyArchive {
                    identifier: ids.units[i].clone(),
                    title: m.units[u.index].title().to_owned(),
                })
                .collect(),
        };
        let file = File::create(path).map_err(|e| ArchiveError::io("creating the reply", e))?;
        let mut out = std::io::BufWriter::new(file);
        let mut bordereau = match (&mut exam.manifest_file, version) {
            (Some(f), v) if accepted && v.describes_documents() => {
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| ArchiveError::io("rereading the bordereau", e))?;
                Some(BufReader::new(f))
            }
            _ => None,
        };
        reply
            .write_xml(
                &mut out,
                &archives,
                bordereau.as_mut().map(|b| b as &mut dyn std::io::BufRead),
            )
            .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| ArchiveError::io("writing the reply", e))?;
        Ok(())
    }
}

impl Archive {
    /// The acknowledgement of a package, once its manifest is read (the as@lae intake writes
    /// its own at receipt): the transfer's identifier and agencies as it names them, in its
    /// SEDA version; recorded once, with its event (an ingest resumed after a stop does not
    /// acknowledge twice).
    pub(super) fn acknowledge(
        &self,
        tenant: &TenantId,
        operation: &OperationId,
        version: SedaVersion,
        header: &manifest::Header,
    ) -> Result<(), ArchiveError> {
        let at = self.now();
        let named = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let ack = carnac_seda::asalae::Acknowledgement {
            version,
            identifier: format!("ACK_{operation}"),
            date: at.to_string(),
            received_identifier: if header.message_identifier.trim().is_empty() {
                "unknown".into()
            } else {
                header.message_identifier.trim().to_owned()
            },
            archival_agency: named(&header.archival_agency)
                .unwrap_or_else(|| self.config.archival_agency.clone()),
            transferring_agency: named(&header.transferring_agency)
                .unwrap_or_else(|| "unknown".into()),
            comment: "Votre transfert d'archives a été reçu et son bordereau lu ; il est contrôlé et vous recevrez sa réponse (ArchiveTransferReply).".into(),
        };
        let event = NewEvent {
            tenant: tenant.clone(),
            operation: operation.clone(),
            kind: EventKind::TransferAcknowledged,
            outcome: Status::Ok,
            time: at.to_string(),
            agent: "system".into(),
            detail: serde_json::json!({
                "acknowledgement": ack.identifier,
                "message_identifier": ack.received_identifier,
                "seda_version": version.as_str(),
            }),
        };
        self.catalog
            .acknowledge(tenant, operation, &ack.to_xml(), &event)?;
        Ok(())
    }
}
