# Sourced by the bench scripts: writes a consumer project that uses this checkout's Release task and tool.
# write_consumer_project DIR ITEMS: DIR/NAME.csproj (NAME = DIR's last part) with ITEMS in its ItemGroup; needs $repo
# (the checkout) and $work (its cache folder is $work/cache).
write_consumer_project() {
  mkdir -p "$1"
  cat > "$1/$(basename "$1").csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <Import Project="$repo/build/Lamda.Build.props" />
  <PropertyGroup>
    <OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework>
    <LamdaTasksAssembly>$repo/src/Lamda.Build/bin/Release/net10.0/Lamda.Build.dll</LamdaTasksAssembly>
    <LamdaToolPath>$repo/src/Lamda.Cli/bin/Release/net10.0/lamda.dll</LamdaToolPath>
    <LamdaCacheDirectory>$work/cache</LamdaCacheDirectory>
  </PropertyGroup>
  <ItemGroup>$2</ItemGroup>
  <Import Project="$repo/build/Lamda.Build.targets" />
</Project>
PROJ
}
