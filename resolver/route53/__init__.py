"""The Route 53 API (REST with XML, 2013-04-01) and `policydns import/export route53`.

mapping: Route 53 record sets and health checks <-> zone-file documents (the one mapping);
batch: a change batch's Route 53 rules; sigv4, xmlcodec, api: the HTTP side; store: the
state directory; service: the operations, applied to the serving zones.
"""
