//! VPC: networks, subnets, network ACLs, internet gateways and route tables,
//! with the flow logs of each network and the route each subnet really uses.

use super::{drain, ec2_arn, ec2_tags, link, missing, set, time, Ctx, Part};
use crate::config::in_region;
use crate::error::CollectError;
use aws_sdk_ec2::types::{NetworkAcl, Route, RouteTable};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub async fn collect(ctx: Arc<Ctx>, region: String) -> Part {
    let mut part = Part::default();
    let ec2 = aws_sdk_ec2::Client::new(&in_region(&ctx.sdk, &region));
    let account = ctx.account.as_str();

    let (vpcs, vpcs_err) = drain!(
        ec2.describe_vpcs().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeVpcs"
    );
    let (subnets, subnets_err) = drain!(
        ec2.describe_subnets().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeSubnets"
    );
    let (acls, acls_err) = drain!(
        ec2.describe_network_acls().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeNetworkAcls"
    );
    let (gateways, gateways_err) = drain!(
        ec2.describe_internet_gateways()
            .into_paginator()
            .items()
            .send(),
        "ec2",
        &region,
        "ec2:DescribeInternetGateways"
    );
    let (tables, tables_err) = drain!(
        ec2.describe_route_tables().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeRouteTables"
    );
    let (flow_logs, flow_logs_err) = drain!(
        ec2.describe_flow_logs().into_paginator().items().send(),
        "ec2",
        &region,
        "ec2:DescribeFlowLogs"
    );

    // --- networks ---------------------------------------------------------
    for v in &vpcs {
        let id = v.vpc_id().unwrap_or_default();
        let owner = v.owner_id().unwrap_or(account);
        let mut r = ctx.resource(
            &region,
            "VPC",
            "aws.ec2.vpc",
            ec2_arn(&region, owner, "vpc", id),
            id.to_string(),
        );
        set(&mut r, "vpc_id", id);
        set(&mut r, "cidr_block", v.cidr_block());
        set(
            &mut r,
            "cidr_blocks",
            v.cidr_block_association_set()
                .iter()
                .filter_map(|c| c.cidr_block())
                .collect::<Vec<_>>(),
        );
        set(
            &mut r,
            "ipv6_cidr_blocks",
            v.ipv6_cidr_block_association_set()
                .iter()
                .filter_map(|c| c.ipv6_cidr_block())
                .collect::<Vec<_>>(),
        );
        set(&mut r, "is_default", v.is_default().unwrap_or(false));
        set(&mut r, "state", v.state().map(|s| s.as_str()));
        set(
            &mut r,
            "instance_tenancy",
            v.instance_tenancy().map(|s| s.as_str()),
        );
        set(&mut r, "dhcp_options_id", v.dhcp_options_id());
        set(&mut r, "owner_id", owner);
        match &flow_logs_err {
            None => {
                let mine: Vec<_> = flow_logs
                    .iter()
                    .filter(|f| f.resource_id() == Some(id))
                    .collect();
                set(
                    &mut r,
                    "flow_logs_enabled",
                    mine.iter().any(|f| f.flow_log_status() == Some("ACTIVE")),
                );
                set(
                    &mut r,
                    "flow_logs",
                    mine.iter()
                        .map(|f| {
                            json!({
                                "id": f.flow_log_id(),
                                "status": f.flow_log_status(),
                                "traffic_type": f.traffic_type().map(|t| t.as_str()),
                                "destination_type": f.log_destination_type().map(|t| t.as_str()),
                                "destination": f.log_destination().or(f.log_group_name()),
                                "created": time(f.creation_time()),
                            })
                        })
                        .collect::<Vec<_>>(),
                );
            }
            Some(e) => {
                missing(&mut r, "flow_logs_enabled", e);
                missing(&mut r, "flow_logs", e);
            }
        }
        ec2_tags(&mut r, v.tags());
        part.resources.push(r);
    }

    // --- which route table and network ACL each subnet uses ---------------
    let mut main_table: HashMap<&str, &RouteTable> = HashMap::new();
    let mut subnet_table: HashMap<&str, &RouteTable> = HashMap::new();
    for t in &tables {
        for a in t.associations() {
            if a.main() == Some(true) {
                if let Some(vpc) = t.vpc_id() {
                    main_table.insert(vpc, t);
                }
            } else if let Some(subnet) = a.subnet_id() {
                subnet_table.insert(subnet, t);
            }
        }
    }
    let mut subnet_acl: HashMap<&str, &NetworkAcl> = HashMap::new();
    for acl in &acls {
        for a in acl.associations() {
            if let Some(subnet) = a.subnet_id() {
                subnet_acl.insert(subnet, acl);
            }
        }
    }

    // --- subnets ----------------------------------------------------------
    for s in &subnets {
        let id = s.subnet_id().unwrap_or_default();
        let owner = s.owner_id().unwrap_or(account);
        let arn = s
            .subnet_arn()
            .map(String::from)
            .unwrap_or_else(|| ec2_arn(&region, owner, "subnet", id));
        let mut r = ctx.resource(&region, "VPC", "aws.ec2.subnet", arn, id.to_string());
        set(&mut r, "subnet_id", id);
        set(&mut r, "vpc_id", s.vpc_id());
        set(&mut r, "availability_zone", s.availability_zone());
        set(&mut r, "availability_zone_id", s.availability_zone_id());
        set(&mut r, "cidr_block", s.cidr_block());
        set(
            &mut r,
            "ipv6_cidr_blocks",
            s.ipv6_cidr_block_association_set()
                .iter()
                .filter_map(|c| c.ipv6_cidr_block())
                .collect::<Vec<_>>(),
        );
        set(
            &mut r,
            "map_public_ip_on_launch",
            s.map_public_ip_on_launch().unwrap_or(false),
        );
        set(
            &mut r,
            "assign_ipv6_address_on_creation",
            s.assign_ipv6_address_on_creation().unwrap_or(false),
        );
        set(
            &mut r,
            "default_for_az",
            s.default_for_az().unwrap_or(false),
        );
        set(
            &mut r,
            "available_ip_address_count",
            s.available_ip_address_count(),
        );
        set(&mut r, "state", s.state().map(|x| x.as_str()));
        if let Some(vpc) = s.vpc_id() {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, owner, "vpc", vpc),
            ));
        }
        // A subnet without its own route table uses its network's main one.
        let table = subnet_table
            .get(id)
            .or_else(|| s.vpc_id().and_then(|v| main_table.get(v)));
        match (&tables_err, table) {
            (Some(e), _) => {
                missing(&mut r, "route_table_id", e);
                missing(&mut r, "routes_to_internet_gateway", e);
            }
            (None, Some(t)) => {
                let tid = t.route_table_id().unwrap_or_default();
                set(&mut r, "route_table_id", tid);
                set(
                    &mut r,
                    "routes_to_internet_gateway",
                    routes_to_internet_gateway(t.routes()),
                );
                r.associations.push(link(
                    "uses",
                    "aws.ec2.route_table",
                    ec2_arn(&region, t.owner_id().unwrap_or(owner), "route-table", tid),
                ));
            }
            (None, None) => {
                set(&mut r, "route_table_id", Value::Null);
                set(&mut r, "routes_to_internet_gateway", false);
            }
        }
        match (&acls_err, subnet_acl.get(id)) {
            (Some(e), _) => missing(&mut r, "network_acl_id", e),
            (None, Some(acl)) => {
                let aid = acl.network_acl_id().unwrap_or_default();
                set(&mut r, "network_acl_id", aid);
                r.associations.push(link(
                    "uses",
                    "aws.ec2.network_acl",
                    ec2_arn(&region, acl.owner_id().unwrap_or(owner), "network-acl", aid),
                ));
            }
            (None, None) => set(&mut r, "network_acl_id", Value::Null),
        }
        ec2_tags(&mut r, s.tags());
        part.resources.push(r);
    }

    // --- network ACLs -----------------------------------------------------
    for acl in &acls {
        let id = acl.network_acl_id().unwrap_or_default();
        let owner = acl.owner_id().unwrap_or(account);
        let mut r = ctx.resource(
            &region,
            "VPC",
            "aws.ec2.network_acl",
            ec2_arn(&region, owner, "network-acl", id),
            id.to_string(),
        );
        set(&mut r, "network_acl_id", id);
        set(&mut r, "vpc_id", acl.vpc_id());
        set(&mut r, "is_default", acl.is_default().unwrap_or(false));
        let mut entries: Vec<_> = acl.entries().iter().collect();
        entries.sort_by_key(|e| (e.egress(), e.rule_number()));
        set(
            &mut r,
            "entries",
            entries
                .iter()
                .map(|e| {
                    let protocol = e.protocol().unwrap_or_default();
                    // Only TCP (6) and UDP (17) rules carry ports; every other
                    // protocol, "-1" (all) included, covers every port.
                    let (from, to) = match (protocol, e.port_range()) {
                        ("6" | "17", Some(p)) => (p.from().unwrap_or(0), p.to().unwrap_or(65535)),
                        _ => (0, 65535),
                    };
                    json!({
                        "rule_number": e.rule_number(),
                        "egress": e.egress().unwrap_or(false),
                        "protocol": protocol,
                        "from_port": from,
                        "to_port": to,
                        "cidr_block": e.cidr_block(),
                        "ipv6_cidr_block": e.ipv6_cidr_block(),
                        "rule_action": e.rule_action().map(|a| a.as_str()),
                    })
                })
                .collect::<Vec<_>>(),
        );
        let attached: Vec<&str> = acl
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        set(&mut r, "subnet_ids", attached.clone());
        for subnet in attached {
            r.associations.push(link(
                "attached_to",
                "aws.ec2.subnet",
                ec2_arn(&region, owner, "subnet", subnet),
            ));
        }
        if let Some(vpc) = acl.vpc_id() {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, owner, "vpc", vpc),
            ));
        }
        ec2_tags(&mut r, acl.tags());
        part.resources.push(r);
    }

    // --- internet gateways --------------------------------------------------
    for g in &gateways {
        let id = g.internet_gateway_id().unwrap_or_default();
        let owner = g.owner_id().unwrap_or(account);
        let mut r = ctx.resource(
            &region,
            "VPC",
            "aws.ec2.internet_gateway",
            ec2_arn(&region, owner, "internet-gateway", id),
            id.to_string(),
        );
        set(&mut r, "internet_gateway_id", id);
        set(
            &mut r,
            "attachments",
            g.attachments()
                .iter()
                .map(|a| json!({"vpc_id": a.vpc_id(), "state": a.state().map(|s| s.as_str())}))
                .collect::<Vec<_>>(),
        );
        set(&mut r, "attached", !g.attachments().is_empty());
        for a in g.attachments() {
            if let Some(vpc) = a.vpc_id() {
                r.associations.push(link(
                    "attached_to",
                    "aws.ec2.vpc",
                    ec2_arn(&region, owner, "vpc", vpc),
                ));
            }
        }
        ec2_tags(&mut r, g.tags());
        part.resources.push(r);
    }

    // --- route tables -------------------------------------------------------
    for t in &tables {
        let id = t.route_table_id().unwrap_or_default();
        let owner = t.owner_id().unwrap_or(account);
        let mut r = ctx.resource(
            &region,
            "VPC",
            "aws.ec2.route_table",
            ec2_arn(&region, owner, "route-table", id),
            id.to_string(),
        );
        set(&mut r, "route_table_id", id);
        set(&mut r, "vpc_id", t.vpc_id());
        set(
            &mut r,
            "main",
            t.associations().iter().any(|a| a.main() == Some(true)),
        );
        set(
            &mut r,
            "routes",
            t.routes()
                .iter()
                .map(|x| {
                    json!({
                        "destination_cidr_block": x.destination_cidr_block(),
                        "destination_ipv6_cidr_block": x.destination_ipv6_cidr_block(),
                        "destination_prefix_list_id": x.destination_prefix_list_id(),
                        "gateway_id": x.gateway_id(),
                        "nat_gateway_id": x.nat_gateway_id(),
                        "transit_gateway_id": x.transit_gateway_id(),
                        "vpc_peering_connection_id": x.vpc_peering_connection_id(),
                        "egress_only_internet_gateway_id": x.egress_only_internet_gateway_id(),
                        "instance_id": x.instance_id(),
                        "network_interface_id": x.network_interface_id(),
                        "state": x.state().map(|s| s.as_str()),
                        "origin": x.origin().map(|s| s.as_str()),
                    })
                })
                .collect::<Vec<_>>(),
        );
        set(
            &mut r,
            "routes_to_internet_gateway",
            routes_to_internet_gateway(t.routes()),
        );
        let subnets: Vec<&str> = t
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        set(&mut r, "subnet_ids", subnets.clone());
        for subnet in subnets {
            r.associations.push(link(
                "attached_to",
                "aws.ec2.subnet",
                ec2_arn(&region, owner, "subnet", subnet),
            ));
        }
        let mut gateways_used: Vec<&str> = t
            .routes()
            .iter()
            .filter_map(|x| x.gateway_id())
            .filter(|g| g.starts_with("igw-"))
            .collect();
        gateways_used.sort_unstable();
        gateways_used.dedup();
        for g in gateways_used {
            r.associations.push(link(
                "uses",
                "aws.ec2.internet_gateway",
                ec2_arn(&region, owner, "internet-gateway", g),
            ));
        }
        if let Some(vpc) = t.vpc_id() {
            r.associations.push(link(
                "member_of",
                "aws.ec2.vpc",
                ec2_arn(&region, owner, "vpc", vpc),
            ));
        }
        ec2_tags(&mut r, t.tags());
        part.resources.push(r);
    }

    let errors: [Option<CollectError>; 6] = [
        vpcs_err,
        subnets_err,
        acls_err,
        gateways_err,
        tables_err,
        flow_logs_err,
    ];
    part.errors.extend(errors.into_iter().flatten());
    part
}

/// Whether a route table sends traffic for anywhere (0.0.0.0/0 or ::/0) to an
/// internet gateway: what makes the subnets using it public.
fn routes_to_internet_gateway(routes: &[Route]) -> bool {
    routes.iter().any(|r| {
        let anywhere = r.destination_cidr_block() == Some("0.0.0.0/0")
            || r.destination_ipv6_cidr_block() == Some("::/0");
        let igw = r.gateway_id().is_some_and(|g| g.starts_with("igw-"));
        let live = r.state().map(|s| s.as_str()) != Some("blackhole");
        anywhere && igw && live
    })
}

#[cfg(test)]
mod tests {
    use super::routes_to_internet_gateway;
    use aws_sdk_ec2::types::{Route, RouteState};

    #[test]
    fn only_live_default_routes_to_an_igw_are_public() {
        let default_igw = Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id("igw-1")
            .state(RouteState::Active)
            .build();
        let local = Route::builder()
            .destination_cidr_block("10.0.0.0/16")
            .gateway_id("local")
            .build();
        let nat = Route::builder()
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id("nat-1")
            .build();
        let dead = Route::builder()
            .destination_ipv6_cidr_block("::/0")
            .gateway_id("igw-1")
            .state(RouteState::Blackhole)
            .build();
        assert!(routes_to_internet_gateway(&[local.clone(), default_igw]));
        assert!(!routes_to_internet_gateway(&[local, nat, dead]));
    }
}
