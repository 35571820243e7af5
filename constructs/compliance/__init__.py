"""Compliance helpers every layer uses: the validators' accepted findings and the log groups we own.

nag.py acknowledges cdk-nag findings and skips checkov and cfn-lint checks, each with its reason, in one way.
owned_logs.py creates the log groups AWS services would otherwise create outside the template (API Gateway
execution logs, CDK's LogRetention provider) and lets CloudWatch Logs use a stack key. Both sit at the bottom
because hosting, private and the API all call them; they import nothing of ours.
"""
