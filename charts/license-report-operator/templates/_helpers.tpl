{{/*
Names, labels and the decisions several templates share.
*/}}

{{- define "lro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: every object is named after it (Kubernetes names stop at 63 characters). */}}
{{- define "lro.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lro.labels" -}}
helm.sh/chart: {{ include "lro.chart" . }}
{{ include "lro.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: license-report-operator
{{- end }}

{{- define "lro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lro.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "lro.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Several replicas coordinate through kopf peering; one runs standalone. */}}
{{- define "lro.peering" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{- define "lro.peeringName" -}}
{{- default (include "lro.fullname" .) .Values.peering.name }}
{{- end }}

{{/* The hash-key Secret the operator reads (--hash-key-secret). */}}
{{- define "lro.hashKeySecretName" -}}
{{- if .Values.hashKey.existingSecret }}
{{- .Values.hashKey.existingSecret }}
{{- else }}
{{- default (printf "%s-hash-key" (include "lro.fullname" .)) .Values.hashKey.name }}
{{- end }}
{{- end }}

{{/*
The base64 value of the hash-key Secret's "key".
Input: a dict with "existing", the Secret found by `lookup` (an empty dict when
there is none, which is always the case under `helm template`).
An existing key is reused byte for byte, so upgrades never change the key and
reports stay comparable. Otherwise a new key: 64 hex characters, the SHA-256 of
64 characters from crypto/rand (about 380 bits), like the operator's own
(32 random bytes as hex). Kept in its own template so that the tests can render
the reuse branch with a made-up lookup result (tests/chart/test_hash_key.py).
*/}}
{{- define "lro.hashKeyData" -}}
{{- $existing := .existing | default dict }}
{{- $data := get $existing "data" | default dict }}
{{- $key := get $data "key" }}
{{- if $key }}
{{- $key }}
{{- else }}
{{- randAlphaNum 64 | sha256sum | b64enc }}
{{- end }}
{{- end }}

{{/*
Namespaces where the namespaced rules are granted (watchNamespaces mode), and
namespaces where only gateway pods are listed.
*/}}
{{- define "lro.gatewayOnlyNamespaces" -}}
{{- $out := list }}
{{- range .Values.rbac.gatewayNamespaces }}
{{- if not (has . $.Values.watchNamespaces) }}
{{- $out = append $out . }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
Framework (kopf) rules needed in every namespace the operator serves.
Input: the root context. Rendered into a ClusterRole (every namespace) or into
a Role per watched namespace.
*/}}
{{- define "lro.rules.framework" -}}
# kopf posts core v1 Events (POST only, it never updates them) about the
# requests it handles, in the request's namespace.
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- if include "lro.peering" . }}
# kopf peering (replicaCount > 1): each pod lists and watches the peering
# object to see its peers and patches its own heartbeat into it. The chart
# creates the object, so kopf needs no get or create.
- apiGroups: [kopf.dev]
  resources: [{{ if .Values.watchNamespaces }}kopfpeerings{{ else }}clusterkopfpeerings{{ end }}]
  verbs: [list, watch, patch]
{{- end }}
{{- end }}

{{/*
Reaching gateways and their datastores (issue 13) in every namespace where
gateway pods live: the served namespaces and rbac.gatewayNamespaces.
*/}}
{{- define "lro.rules.gatewayAccess" -}}
{{- if .Values.rbac.portForward }}
# Port-forward (rbac.portForward): to a gateway pod whose Admin API listens on
# loopback only, and to a ready pod behind a datastore Service when the operator
# runs outside the cluster. TCP to any port of any pod in this namespace. get:
# the WebSocket upgrade is a GET; create: the SPDY form is a POST, and from
# Kubernetes 1.35 the API server also requires create for the WebSocket upgrade
# (feature gate AuthorizePodWebsocketUpgradeCreatePermission, beta, on by default).
- apiGroups: [""]
  resources: [pods/portforward]
  verbs: [get, create]
{{- end }}
# A datastore that a gateway pod names (KONG_PG_HOST) is a Service, read by
# its name; never listed.
- apiGroups: [""]
  resources: [services]
  verbs: [get]
# The ready pods behind that Service: its EndpointSlices, listed by the
# kubernetes.io/service-name label.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list]
{{- end }}

{{/*
Application rules needed in every namespace the operator serves.
*/}}
{{- define "lro.rules.application" -}}
# kopf lists and watches the requests, and patches them for its own state
# (annotations: progress, last-handled configuration; the finalizer). A
# schedule's daemon reads its own request before each run (get: nothing that
# list does not already show).
- apiGroups: [licensereport.io]
  resources: [licensereportrequests]
  verbs: [get, list, watch, patch]
# The operator writes each request's status (phase, summary, conditions).
- apiGroups: [licensereport.io]
  resources: [licensereportrequests/status]
  verbs: [patch]
# Gateway discovery: the pods matching spec.gateway.selector, listed with a
# label selector; metering (spec.metering) watches them with the same selector,
# to sample a pod the moment it starts terminating. Read only.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# The Secrets a request names (Admin API token, CA, license, datastore
# password), read one by one. Never listed or watched, never written.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
# The report ConfigMap: created, or read and replaced whole on a rerun (only
# when it is owned by the request); for fleets whose nodes.json passes 1 MiB,
# its part ConfigMaps too. A schedule's history ConfigMaps past
# spec.historyLimit are deleted: by name, taken from the request's status,
# after checking the request owns them, with its uid as a precondition. The
# metering ledger's ConfigMaps (licensereport.io/ledger) are read by name,
# created, and replaced with a resourceVersion precondition; those past
# spec.metering.retentionMonths are deleted by name. Never listed, so no other
# ConfigMap's content is ever read.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, get, update, delete]
{{- include "lro.rules.gatewayAccess" . }}
{{- end }}
