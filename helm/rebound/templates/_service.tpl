{{/*
The objects of one Rebound service: Deployment, Service, HorizontalPodAutoscaler and
PodDisruptionBudget. Called from <service>.yaml as
  include "rebound.component" (dict "root" $ "name" "ingest" "grpc" true "env" $envList)
*/}}
{{- define "rebound.component" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := index $root.Values $name -}}
{{- $full := printf "%s-%s" (include "rebound.fullname" $root) $name | trunc 63 | trimSuffix "-" -}}
{{- if $c.enabled }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $full }}
  labels:
    {{- include "rebound.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "rebound.selectorLabels" (dict "root" $root "name" $name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "rebound.selectorLabels" (dict "root" $root "name" $name) | nindent 8 }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $name }}
          image: {{ include "rebound.image" (dict "root" $root "name" $name) | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
            {{- if .grpc }}
            - name: grpc
              containerPort: 50051
              protocol: TCP
            {{- end }}
          env:
            {{- include "rebound.commonEnv" $root | nindent 12 }}
            {{- with .env }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
          readinessProbe:
            {{- if .grpc }}
            grpc: {port: 50051}
            {{- else }}
            httpGet: {path: /readyz, port: http}
            {{- end }}
            periodSeconds: 5
            timeoutSeconds: 3
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: config
              mountPath: /etc/rebound/config
              readOnly: true
            {{- if and (eq $name "notifier") $root.Values.config.templates }}
            - name: templates
              mountPath: /etc/rebound/templates
              readOnly: true
            {{- end }}
            {{- if $root.Values.kafka.tls.caSecret }}
            - name: kafka-tls
              mountPath: /etc/rebound/kafka-tls
              readOnly: true
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 64Mi}
        - name: config
          configMap:
            name: {{ include "rebound.fullname" $root }}
        {{- if and (eq $name "notifier") $root.Values.config.templates }}
        - name: templates
          configMap:
            name: {{ include "rebound.fullname" $root }}-templates
        {{- end }}
        {{- if $root.Values.kafka.tls.caSecret }}
        - name: kafka-tls
          secret:
            secretName: {{ $root.Values.kafka.tls.caSecret }}
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $full }}
  labels:
    {{- include "rebound.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  type: {{ $c.service.type }}
  selector:
    {{- include "rebound.selectorLabels" (dict "root" $root "name" $name) | nindent 4 }}
  ports:
    - name: http
      port: {{ $c.service.httpPort }}
      targetPort: http
    {{- if .grpc }}
    - name: grpc
      port: {{ $c.service.grpcPort }}
      targetPort: grpc
      appProtocol: grpc
    {{- end }}
{{- if $c.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $full }}
  labels:
    {{- include "rebound.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $full }}
  minReplicas: {{ $c.autoscaling.minReplicas }}
  maxReplicas: {{ $c.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $c.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- if $c.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $full }}
  labels:
    {{- include "rebound.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $name }}
spec:
  minAvailable: {{ $c.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "rebound.selectorLabels" (dict "root" $root "name" $name) | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}
