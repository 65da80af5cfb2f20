"""The emulator (simulator/emulator) through real clients: Lambda, CodeDeploy, CloudWatch, Logs, moto's services, the guard."""
