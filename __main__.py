"""gtc-demo: composition only. Read the stack config once, build the components, export the outputs."""

import pulumi

from components.config import load_settings
from components.dashboards import Dashboards, DashboardsArgs
from components.gateway import Gateway, GatewayArgs
from components.dgd import DGD_NAME
from components.inference import Inference, InferenceArgs
from components.infra import Infrastructure, InfrastructureArgs
from components.local_cluster import LocalCluster
from components.loadgen import SERVICE_PORT, LoadGenerator, LoadGeneratorArgs
from components.loadgen_image import LoadgenImage, LoadgenImageArgs
from components.model_pipeline import ModelPipeline, ModelPipelineArgs
from components.operator_commands import operator_commands
from components.platform import Platform, PlatformArgs
from components.verification import Verification, VerificationArgs

settings = load_settings()
config = settings.config

# Where the cluster comes from (gtc-demo:clusterSource): DOKS made here, or a local control plane.
infra_args = InfrastructureArgs(config=config, secrets=settings.secrets)
infra = (LocalCluster("infra", infra_args, kubeconfig=settings.kubeconfig) if config.cluster_source.is_local
         else Infrastructure("infra", infra_args))
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": infra.k8s_provider})
platform = Platform("platform", PlatformArgs(config=config, secrets=settings.secrets, infra=infra), opts=on_cluster)

# The mocker backend needs no weights, so no download at all.
pipeline = (ModelPipeline("model", ModelPipelineArgs(config=config, platform=platform), opts=on_cluster)
            if config.uses_gpus else None)
inference = Inference("inference", InferenceArgs(config=config, infra=infra, platform=platform, pipeline=pipeline),
                      opts=on_cluster)
loadgen_image = LoadgenImage("loadgen-image", LoadgenImageArgs(config=config))
loadgen = LoadGenerator("loadgen", LoadGeneratorArgs(
    config=config, platform=platform, frontend_url=inference.frontend_url,
    baseline_url=inference.baseline_url, model=inference.model_name, image=loadgen_image.ref), opts=on_cluster)
dashboards = Dashboards("dashboards", DashboardsArgs(platform=platform), opts=on_cluster)
gateway = Gateway("gateway", GatewayArgs(
    config=config, platform=platform, loadgen_service=loadgen.service_name, loadgen_port=SERVICE_PORT,
    backends=[loadgen.service]), opts=on_cluster)
# Last: prove the booth works from inside the cluster (both frontends, KV cache on turn 2, the public URL).
verification = Verification("verification", VerificationArgs(
    config=config, platform=platform, image=loadgen_image.ref, frontend_url=inference.frontend_url,
    baseline_url=inference.baseline_url,
    waits_for=[inference.graph, gateway.gateway, gateway.ui_route, loadgen.deployment]),
    opts=on_cluster) if config.verification.run else None

pulumi.export("hostname", config.hostname)
pulumi.export("clusterName", infra.cluster_name)
pulumi.export("clusterId", infra.cluster_id)
pulumi.export("kubeconfig", infra.kubeconfig)
pulumi.export("nfsHost", infra.nfs_host)
pulumi.export("nfsPath", infra.nfs_path)
pulumi.export("grafanaAdminPassword", pulumi.Output.secret(platform.grafana_admin_password.result))
pulumi.export("uiUrl", gateway.ui_url)
pulumi.export("grafanaUrl", gateway.grafana_url)
pulumi.export("frontendUrl", inference.frontend_url)
pulumi.export("baselineFrontendUrl", inference.baseline_url)
pulumi.export("workerBackend", config.worker_backend)
pulumi.export("loadgenImage", loadgen_image.ref)
pulumi.export("loadgenImageSource", loadgen_image.source)
if verification is not None:
    pulumi.export("verification", verification.outputs)
    pulumi.export("verificationJob", verification.job.metadata.name)
    pulumi.export("verificationJobUrn", verification.job.urn)
    verification_job = pulumi.Output.all(verification.job.metadata.name, verification.job.urn)
else:
    pulumi.export("verification", {"verdict": f"skipped: {config.verification.reason}"})
    verification_job = pulumi.Output.from_input([None, None])
pulumi.export("operatorCommands", verification_job.apply(
    lambda job: operator_commands(settings.stack, DGD_NAME, inference.frontend_url, inference.baseline_url, *job)))
pulumi.export("loadgenControlToken", pulumi.Output.secret(loadgen.control_token.result))
